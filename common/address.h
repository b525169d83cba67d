// Addresses a process can tell others to dial: a daemon listening on every interface
// (0.0.0.0, [::]) is reached through this machine's host name, not through the wildcard.
#ifndef GPOOL_COMMON_ADDRESS_H_
#define GPOOL_COMMON_ADDRESS_H_

#include <string>

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

}  // namespace gpool

#endif  // GPOOL_COMMON_ADDRESS_H_
