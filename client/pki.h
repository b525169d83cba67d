// `gpool init`: a private certificate authority and a certificate with its key for each role
// (coordinator, worker, client), in the layout --credentials reads (rpc/transport.h,
// docs/security.md). Keys are EC P-256; each certificate states its role as the URI SAN
// spiffe://gpool/<role> (rpc/roles.h).
#ifndef GPOOL_CLIENT_PKI_H_
#define GPOOL_CLIENT_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rpc/roles.h"

namespace gpool {

// How long what `gpool init` issues stays valid.
inline constexpr absl::Duration kCaValidity = absl::Hours(24 * 3650);
inline constexpr absl::Duration kCertificateValidity = absl::Hours(24 * 825);

// A private key and its certificate, both PEM.
struct KeyAndCertificate {
  std::string key_pem;
  std::string certificate_pem;
};

// A self-signed CA named `name`, valid from `not_before` to `not_after`.
absl::StatusOr<KeyAndCertificate> CreateCertificateAuthority(const std::string& name,
                                                             absl::Time not_before,
                                                             absl::Time not_after);

// A certificate for `role`, signed by `ca`, valid for TLS clients and servers at `hosts`
// (DNS names or IP addresses, as DNS and IP SANs; may be empty), from `not_before` to
// `not_after`. INVALID_ARGUMENT when `ca` does not parse.
absl::StatusOr<KeyAndCertificate> IssueCertificate(const KeyAndCertificate& ca, Role role,
                                                   const std::vector<std::string>& hosts,
                                                   absl::Time not_before, absl::Time not_after);

// The hosts `gpool init` certifies when given none: this machine's name, localhost and
// 127.0.0.1.
std::vector<std::string> DefaultCredentialHosts();

// Writes a new CA and the three roles' credentials into `directory` (created, mode 0700, if
// missing): ca.crt, ca.key, and <role>.crt, <role>.key for coordinator, worker and client;
// keys mode 0600. The coordinator's and the workers' certificates are valid for `hosts`.
// FAILED_PRECONDITION, writing nothing, when the directory already holds any of these files;
// INVALID_ARGUMENT for no hosts.
absl::Status InitCredentials(const std::string& directory, const std::vector<std::string>& hosts);

}  // namespace gpool

#endif  // GPOOL_CLIENT_PKI_H_
