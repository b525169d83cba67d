#include "common/address.h"

#include <arpa/inet.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace gpool {

std::string LocalHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

bool IsWildcardHost(absl::string_view host) {
  return host == "0.0.0.0" || host == "[::]" || host == "::";
}

bool IsLoopbackHost(absl::string_view host) {
  if (host == "localhost" || host == "[::1]" || host == "::1") return true;
  // A literal IPv4 address only: a name could resolve anywhere.
  in_addr address = {};
  const std::string text(host);
  if (inet_pton(AF_INET, text.c_str(), &address) != 1) return false;
  return (ntohl(address.s_addr) >> 24) == 127;
}

std::string DialableAddress(absl::string_view listen_host, int port,
                            absl::string_view host_name) {
  return absl::StrCat(IsWildcardHost(listen_host) ? host_name : listen_host, ":", port);
}

}  // namespace gpool
