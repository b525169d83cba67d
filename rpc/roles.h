// Who may call what, with credentials (DESIGN 3a "Roles"). The one place where gpool decides
// whether a peer may make a call: the table of RPCs and the roles allowed to call each, and
// the gRPC hook that applies it to every call a daemon serves (RoleCheckProcessor), so no
// handler checks a role itself.
//
// A peer's role is in its certificate, as a URI subject alternative name
// spiffe://gpool/<role> (what `gpool init` writes; a team's own PKI adds the same). Without
// credentials (loopback only) there is no role and no check.
#ifndef GPOOL_RPC_ROLES_H_
#define GPOOL_RPC_ROLES_H_

#include <string>
#include <vector>

#include <grpcpp/security/auth_metadata_processor.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gpool {

enum class Role { kCoordinator, kWorker, kClient };

// "coordinator", "worker", "client".
absl::string_view RoleName(Role role);

// The URI SAN that states `role` in a certificate: "spiffe://gpool/<role>".
std::string RoleUri(Role role);

// The role stated by a certificate's URI SANs: exactly one of them must be a role URI (others
// are ignored). PERMISSION_DENIED naming what was found when none is, or several differ.
absl::StatusOr<Role> RoleFromUris(const std::vector<std::string>& uris);

// May a peer of `role` call `method` (the full name, "/gpool.v1.Coordinator/Map")? OK, or
// PERMISSION_DENIED naming the role and the RPC. grpc.health.v1 and server reflection are
// open to every role; a method missing from the table is open to none.
absl::Status AuthorizeCall(Role role, absl::string_view method);

// Applies AuthorizeCall to every call a TLS server receives, before any handler sees it: the
// peer's role from its (verified) certificate, the method from the call's :path. Set on the
// server credentials (rpc/transport.cc).
class RoleCheckProcessor final : public grpc::AuthMetadataProcessor {
 public:
  // A table lookup: it runs inline on gRPC's thread instead of hopping to another.
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;
};

}  // namespace gpool

#endif  // GPOOL_RPC_ROLES_H_
