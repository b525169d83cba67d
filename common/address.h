// Addresses a process can tell others to dial: a daemon listening on every interface
// (0.0.0.0, [::]) is reached through this machine's host name, not through the wildcard.
#ifndef GPOOL_COMMON_ADDRESS_H_
#define GPOOL_COMMON_ADDRESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace gpool {

// This machine's host name; "localhost" when it has none.
std::string LocalHostName();

// True for the hosts a server listens on to accept on every interface (0.0.0.0, [::], ::),
// which no peer can dial.
bool IsWildcardHost(absl::string_view host);

// True for hosts only this machine can reach: 127.0.0.0/8, ::1 ([::1]) and localhost. A
// daemon without credentials listens on nothing else unless told --insecure.
bool IsLoopbackHost(absl::string_view host);

// HOST:PORT at which others reach a server listening on `listen_host` at `port`:
// `listen_host` itself, or `host_name` when it is a wildcard.
std::string DialableAddress(absl::string_view listen_host, int port,
                            absl::string_view host_name);

// Whether HOST:PORT `a` and `b` surely name the same endpoint of this machine: the same port,
// and the same host (ignoring case), or two hosts that are both this machine (loopback, or
// this machine's host name `local_host_name`). False for anything that does not parse.
bool SameLocalEndpoint(absl::string_view a, absl::string_view b,
                       absl::string_view local_host_name);

// The longest host name DNS allows; gpool refuses longer ones wherever a host is given.
inline constexpr size_t kMaxHostNameBytes = 253;

// OK when `host` is a DNS name (labels of letters, digits, '-' and '_', 1 to 63 bytes each,
// at most kMaxHostNameBytes in all), an IPv4 address, or an IPv6 address in brackets.
// INVALID_ARGUMENT naming `field` and what was wrong otherwise (the host is quoted escaped).
absl::Status ValidateHost(absl::string_view host, absl::string_view field);

// OK when `address` is HOST:PORT that a peer can dial: ValidateHost, not a wildcard
// (0.0.0.0, [::]), and a port of 1 to 65535. INVALID_ARGUMENT naming `field` otherwise, with
// a hint for a URI ("dns:///", "http://"), which gpool does not take.
absl::Status ValidateDialAddress(absl::string_view address, absl::string_view field);

}  // namespace gpool

#endif  // GPOOL_COMMON_ADDRESS_H_
