#include "common/address.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

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

namespace {

// What a message may show of a value the caller gave: escaped, and cut when long.
std::string Quoted(absl::string_view text) {
  constexpr size_t kShown = 64;
  const bool cut = text.size() > kShown;
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kShown)), cut ? "...\"" : "\"",
                      cut ? absl::StrCat(" (", text.size(), " bytes)") : "");
}

bool IsIpv4(absl::string_view host) {
  in_addr parsed;
  return inet_pton(AF_INET, std::string(host).c_str(), &parsed) == 1;
}

bool IsBracketedIpv6(absl::string_view host) {
  if (host.size() < 3 || host.front() != '[' || host.back() != ']') return false;
  in6_addr parsed;
  return inet_pton(AF_INET6, std::string(host.substr(1, host.size() - 2)).c_str(), &parsed) ==
         1;
}

bool IsDnsName(absl::string_view host) {
  if (host.empty() || host.size() > kMaxHostNameBytes) return false;
  for (absl::string_view label : absl::StrSplit(host, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

absl::Status ValidateHost(absl::string_view host, absl::string_view field) {
  if (host.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (host.size() > kMaxHostNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is ", host.size(),
                                                   " bytes, over the limit of ",
                                                   kMaxHostNameBytes, " (DNS's)"));
  }
  if (IsDnsName(host) || IsIpv4(host) || IsBracketedIpv6(host)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, " ", Quoted(host), " is not a host: give a DNS name (letters, digits, '-', '_' "
      "and dots), an IPv4 address or an IPv6 address in brackets"));
}

absl::Status ValidateDialAddress(absl::string_view address, absl::string_view field) {
  if (absl::StrContains(address, "://") || absl::StartsWith(address, "unix:") ||
      absl::StartsWith(address, "dns:") || absl::StartsWith(address, "ipv4:") ||
      absl::StartsWith(address, "ipv6:")) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " ", Quoted(address), " is a URI; give HOST:PORT, e.g. worker-1:50052"));
  }
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " ", Quoted(address), " has no port; give HOST:PORT"));
  }
  const absl::string_view host = address.substr(0, colon);
  const absl::string_view port_text = address.substr(colon + 1);
  int port = 0;
  if (port_text.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(port_text[0])) ||
      !absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(field, " ", Quoted(address),
                                                   ": the port must be 1 to 65535"));
  }
  if (IsWildcardHost(host)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " ", Quoted(address), " names every interface, which no peer can dial; give "
        "this machine's host name or address"));
  }
  return ValidateHost(host, absl::StrCat(field, "'s host"));
}

bool SameLocalEndpoint(absl::string_view a, absl::string_view b,
                       absl::string_view local_host_name) {
  const size_t a_colon = a.rfind(':');
  const size_t b_colon = b.rfind(':');
  if (a_colon == absl::string_view::npos || b_colon == absl::string_view::npos) return false;
  if (a.substr(a_colon + 1) != b.substr(b_colon + 1)) return false;
  const absl::string_view a_host = a.substr(0, a_colon);
  const absl::string_view b_host = b.substr(0, b_colon);
  if (absl::EqualsIgnoreCase(a_host, b_host)) return true;
  auto here = [&](absl::string_view host) {
    return IsLoopbackHost(host) || absl::EqualsIgnoreCase(host, local_host_name);
  };
  return here(a_host) && here(b_host);
}

}  // namespace gpool
