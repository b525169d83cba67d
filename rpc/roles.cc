#include "rpc/roles.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rpc/grpc_status.h"

namespace gpool {
namespace {

constexpr absl::string_view kRoleUriPrefix = "spiffe://gpool/";

struct MethodRoles {
  absl::string_view method;
  std::vector<Role> roles;
};

// Every gpool RPC and who may call it (proto/gpool.proto's "Three parties speak it"). A new
// RPC is denied to everyone until it is listed here.
const std::vector<MethodRoles>& MethodTable() {
  static const auto* table = new std::vector<MethodRoles>{
      {"/gpool.v1.Coordinator/RegisterWorker", {Role::kWorker}},
      {"/gpool.v1.Coordinator/Heartbeat", {Role::kWorker}},
      {"/gpool.v1.Coordinator/DrainWorker", {Role::kWorker}},
      {"/gpool.v1.Coordinator/DeregisterWorker", {Role::kWorker}},
      {"/gpool.v1.Coordinator/Map", {Role::kClient}},
      {"/gpool.v1.Coordinator/MapStream", {Role::kClient}},
      {"/gpool.v1.Coordinator/GetClusterInfo", {Role::kClient}},
      {"/gpool.v1.Worker/RunChunks", {Role::kCoordinator}},
      {"/gpool.v1.Worker/ConfirmIncarnation", {Role::kCoordinator}},
  };
  return *table;
}

// Services any authenticated peer may call: probes and tools (grpcurl) must see a daemon.
constexpr absl::string_view kOpenServices[] = {
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
};

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kCoordinator:
      return "coordinator";
    case Role::kWorker:
      return "worker";
    case Role::kClient:
      return "client";
  }
  return "unknown";
}

std::string RoleUri(Role role) { return absl::StrCat(kRoleUriPrefix, RoleName(role)); }

absl::StatusOr<Role> RoleFromUris(const std::vector<std::string>& uris) {
  std::vector<Role> found;
  for (const std::string& uri : uris) {
    for (Role role : {Role::kCoordinator, Role::kWorker, Role::kClient}) {
      if (uri == RoleUri(role) &&
          std::find(found.begin(), found.end(), role) == found.end()) {
        found.push_back(role);
      }
    }
  }
  if (found.size() == 1) return found.front();
  if (found.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the peer's certificate states no gpool role (a URI SAN ", kRoleUriPrefix,
        "coordinator, worker or client); its URI SANs: [", absl::StrJoin(uris, ", "), "]"));
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "the peer's certificate states several gpool roles: [", absl::StrJoin(uris, ", "), "]"));
}

absl::Status AuthorizeCall(Role role, absl::string_view method) {
  for (absl::string_view open : kOpenServices) {
    if (absl::StartsWith(method, open)) return absl::OkStatus();
  }
  for (const MethodRoles& entry : MethodTable()) {
    if (entry.method != method) continue;
    if (std::find(entry.roles.begin(), entry.roles.end(), role) != entry.roles.end()) {
      return absl::OkStatus();
    }
    break;
  }
  absl::string_view name = method;
  absl::ConsumePrefix(&name, "/");
  return absl::PermissionDeniedError(
      absl::StrCat("role ", RoleName(role), " may not call ", name));
}

grpc::Status RoleCheckProcessor::Process(const InputMetadata& auth_metadata,
                                         grpc::AuthContext* context,
                                         OutputMetadata* /*consumed_auth_metadata*/,
                                         OutputMetadata* /*response_metadata*/) {
  std::vector<std::string> uris;
  for (const grpc::string_ref& uri : context->FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
    uris.emplace_back(uri.data(), uri.size());
  }
  absl::StatusOr<Role> role = RoleFromUris(uris);
  if (!role.ok()) return ToGrpcStatus(role.status());
  auto path = auth_metadata.find(":path");
  if (path == auth_metadata.end()) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "the call names no method");
  }
  return ToGrpcStatus(
      AuthorizeCall(*role, absl::string_view(path->second.data(), path->second.size())));
}

}  // namespace gpool
