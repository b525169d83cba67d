#include "common/address.h"

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

std::string DialableAddress(absl::string_view listen_host, int port,
                            absl::string_view host_name) {
  return absl::StrCat(IsWildcardHost(listen_host) ? host_name : listen_host, ":", port);
}

}  // namespace gpool
