// Unit tests of the role table (rpc/roles.h), the --listen rule and credential files
// (rpc/transport.h), and `gpool init` (client/pki.h): the certificates are parsed back with
// OpenSSL and checked for their chain, role URI, host SANs and the keys' modes.
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include "client/pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/roles.h"
#include "rpc/transport.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::ReadFile;
using ::gpool::testing::StatusIs;
using ::gpool::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// ---- The role table ---------------------------------------------------------------------

TEST(AuthorizeCallTest, EachRole_MayCallItsOwnRpcs) {
  for (const char* method : {"/gpool.v1.Coordinator/RegisterWorker",
                             "/gpool.v1.Coordinator/Heartbeat", "/gpool.v1.Coordinator/DrainWorker",
                             "/gpool.v1.Coordinator/DeregisterWorker"}) {
    EXPECT_OK(AuthorizeCall(Role::kWorker, method)) << method;
  }
  EXPECT_OK(AuthorizeCall(Role::kClient, "/gpool.v1.Coordinator/Map"));
  EXPECT_OK(AuthorizeCall(Role::kClient, "/gpool.v1.Coordinator/MapStream"));
  EXPECT_OK(AuthorizeCall(Role::kClient, "/gpool.v1.Coordinator/GetClusterInfo"));
  EXPECT_OK(AuthorizeCall(Role::kCoordinator, "/gpool.v1.Worker/RunChunks"));
  EXPECT_OK(AuthorizeCall(Role::kCoordinator, "/gpool.v1.Worker/ConfirmIncarnation"));
}

TEST(AuthorizeCallTest, OtherRoles_AreDeniedNamingRoleAndRpc) {
  EXPECT_THAT(AuthorizeCall(Role::kWorker, "/gpool.v1.Coordinator/Map"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "role worker may not call gpool.v1.Coordinator/Map"));
  EXPECT_THAT(AuthorizeCall(Role::kClient, "/gpool.v1.Coordinator/RegisterWorker"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "role client may not call gpool.v1.Coordinator/RegisterWorker"));
  EXPECT_THAT(AuthorizeCall(Role::kClient, "/gpool.v1.Worker/RunChunks"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("role client")));
  EXPECT_THAT(AuthorizeCall(Role::kWorker, "/gpool.v1.Worker/RunChunks"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("role worker")));
  // One worker certificate is shared by every worker: a worker may not probe another's
  // incarnation.
  EXPECT_THAT(AuthorizeCall(Role::kWorker, "/gpool.v1.Worker/ConfirmIncarnation"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("role worker")));
  EXPECT_THAT(AuthorizeCall(Role::kCoordinator, "/gpool.v1.Coordinator/Map"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("role coordinator")));
  EXPECT_THAT(AuthorizeCall(Role::kWorker, "/gpool.v1.Coordinator/MapStream"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("role worker")));
}

TEST(AuthorizeCallTest, HealthAndReflection_AreOpenToEveryRole) {
  for (Role role : {Role::kCoordinator, Role::kWorker, Role::kClient}) {
    EXPECT_OK(AuthorizeCall(role, "/grpc.health.v1.Health/Check"));
    EXPECT_OK(AuthorizeCall(role, "/grpc.health.v1.Health/Watch"));
    EXPECT_OK(AuthorizeCall(role,
                            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"));
  }
}

TEST(AuthorizeCallTest, UnlistedMethod_IsDeniedToEveryRole) {
  for (Role role : {Role::kCoordinator, Role::kWorker, Role::kClient}) {
    EXPECT_THAT(AuthorizeCall(role, "/gpool.v1.Coordinator/Shutdown"),
                StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  }
}

TEST(RoleFromUrisTest, OneRoleUri_IsTheRole) {
  absl::StatusOr<Role> worker = RoleFromUris({"spiffe://gpool/worker"});
  ASSERT_OK(worker);
  EXPECT_EQ(*worker, Role::kWorker);
  absl::StatusOr<Role> client = RoleFromUris({"https://example.org/x", "spiffe://gpool/client"});
  ASSERT_OK(client);
  EXPECT_EQ(*client, Role::kClient);
}

TEST(RoleFromUrisTest, NoRoleOrSeveralRoles_IsPermissionDenied) {
  EXPECT_THAT(RoleFromUris({}), StatusIs(absl::StatusCode::kPermissionDenied,
                                         HasSubstr("states no gpool role")));
  EXPECT_THAT(RoleFromUris({"spiffe://gpool/admin"}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("no gpool role")));
  EXPECT_THAT(RoleFromUris({"spiffe://gpool/worker", "spiffe://gpool/coordinator"}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("several")));
}

// ---- Listening and credential files -------------------------------------------------------

TEST(CheckListenAllowedTest, LoopbackWithoutCredentials_IsAllowed) {
  EXPECT_OK(CheckListenAllowed("127.0.0.1:50051", TransportOptions{}, /*insecure=*/false));
  EXPECT_OK(CheckListenAllowed("localhost:0", TransportOptions{}, /*insecure=*/false));
}

TEST(CheckListenAllowedTest, NonLoopbackWithoutCredentials_NamesInitAndInsecure) {
  EXPECT_THAT(CheckListenAllowed("0.0.0.0:50051", TransportOptions{}, /*insecure=*/false),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("gpool init"), HasSubstr("--insecure"))));
}

TEST(CheckListenAllowedTest, NonLoopbackWithCredentialsOrInsecure_IsAllowed) {
  EXPECT_OK(CheckListenAllowed("0.0.0.0:50051", TransportFor(Role::kWorker, "/creds"),
                               /*insecure=*/false));
  EXPECT_OK(CheckListenAllowed("0.0.0.0:50051", TransportOptions{}, /*insecure=*/true));
}

TEST(TransportForTest, EachRole_ExpectsTheServersItDials) {
  EXPECT_EQ(TransportFor(Role::kClient, "d").server_role, Role::kCoordinator);
  EXPECT_EQ(TransportFor(Role::kWorker, "d").server_role, Role::kCoordinator);
  EXPECT_EQ(TransportFor(Role::kCoordinator, "d").server_role, Role::kWorker);
  EXPECT_TRUE(TransportFor(Role::kClient, "d").check_server_host);
  EXPECT_FALSE(TransportFor(Role::kCoordinator, "d").check_server_host);
  EXPECT_FALSE(TransportFor(Role::kClient, "").secure());
}

TEST(CheckCredentialFilesTest, MissingKey_NamesTheFileAndInit) {
  TempDir dir;
  ASSERT_OK(InitCredentials(dir.path() + "/c", {"localhost"}));
  ASSERT_EQ(unlink((dir.path() + "/c/worker.key").c_str()), 0);
  EXPECT_OK(CheckCredentialFiles(TransportFor(Role::kClient, dir.path() + "/c")));
  EXPECT_THAT(CheckCredentialFiles(TransportFor(Role::kWorker, dir.path() + "/c")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(HasSubstr(dir.path() + "/c/worker.key"),
                                        HasSubstr("gpool init"))));
}

// ---- gpool init ---------------------------------------------------------------------------

struct FreeX509 {
  void operator()(X509* certificate) const { X509_free(certificate); }
};

std::unique_ptr<X509, FreeX509> ParseCertificate(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return std::unique_ptr<X509, FreeX509>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// The certificate's SANs as "URI:...", "DNS:...", "IP:...".
std::vector<std::string> SubjectAltNames(X509* certificate) {
  std::vector<std::string> names;
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type == GEN_URI || name->type == GEN_DNS) {
      const ASN1_IA5STRING* text = name->type == GEN_URI ? name->d.uniformResourceIdentifier
                                                         : name->d.dNSName;
      names.push_back(absl::StrCat(name->type == GEN_URI ? "URI:" : "DNS:",
                                   std::string(reinterpret_cast<const char*>(text->data),
                                               static_cast<size_t>(text->length))));
    } else if (name->type == GEN_IPADD && name->d.iPAddress->length == 4) {
      const unsigned char* ip = name->d.iPAddress->data;
      names.push_back(absl::StrCat("IP:", ip[0], ".", ip[1], ".", ip[2], ".", ip[3]));
    }
  }
  GENERAL_NAMES_free(sans);
  return names;
}

// Verifies `leaf` against `ca` alone, as a TLS peer would.
bool ChainsTo(X509* leaf, X509* ca) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(),
                                                                  X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> context(X509_STORE_CTX_new(),
                                                                          X509_STORE_CTX_free);
  X509_STORE_add_cert(store.get(), ca);
  X509_STORE_CTX_init(context.get(), store.get(), leaf, nullptr);
  return X509_verify_cert(context.get()) == 1;
}

mode_t ModeOf(const std::string& path) {
  struct stat info = {};
  if (stat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 0777;
}

TEST(InitCredentialsTest, NewDirectory_WritesEveryFileWithPrivateKeys) {
  TempDir dir;
  const std::string credentials = dir.path() + "/creds";
  ASSERT_OK(InitCredentials(credentials, {"localhost"}));
  for (const char* key : {"ca.key", "coordinator.key", "worker.key", "client.key"}) {
    EXPECT_EQ(ModeOf(credentials + "/" + key), 0600u) << key;
  }
  for (const char* certificate : {"ca.crt", "coordinator.crt", "worker.crt", "client.crt"}) {
    EXPECT_EQ(ModeOf(credentials + "/" + certificate), 0644u) << certificate;
  }
  EXPECT_EQ(ModeOf(credentials), 0700u);
}

TEST(InitCredentialsTest, Certificates_StateTheirRoleAndHostsAndChainToTheCa) {
  TempDir dir;
  const std::string credentials = dir.path() + "/creds";
  ASSERT_OK(InitCredentials(credentials, {"vm.example.org", "localhost", "127.0.0.1"}));
  auto ca = ParseCertificate(ReadFile(credentials + "/ca.crt"));
  ASSERT_NE(ca, nullptr);
  for (Role role : {Role::kCoordinator, Role::kWorker}) {
    auto certificate = ParseCertificate(ReadFile(CredentialFilesFor(credentials, role).certificate));
    ASSERT_NE(certificate, nullptr) << RoleName(role);
    EXPECT_TRUE(ChainsTo(certificate.get(), ca.get())) << RoleName(role);
    EXPECT_THAT(SubjectAltNames(certificate.get()),
                UnorderedElementsAre(absl::StrCat("URI:", RoleUri(role)), "DNS:vm.example.org",
                                     "DNS:localhost", "IP:127.0.0.1"));
  }
  auto client = ParseCertificate(ReadFile(credentials + "/client.crt"));
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(ChainsTo(client.get(), ca.get()));
  EXPECT_THAT(SubjectAltNames(client.get()), UnorderedElementsAre("URI:spiffe://gpool/client"));
}

TEST(InitCredentialsTest, DirectoryWithCredentials_IsRefusedAndLeftAlone) {
  TempDir dir;
  const std::string credentials = dir.path() + "/creds";
  ASSERT_OK(InitCredentials(credentials, {"localhost"}));
  const std::string key = ReadFile(credentials + "/worker.key");
  EXPECT_THAT(InitCredentials(credentials, {"localhost"}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already holds credentials")));
  EXPECT_EQ(ReadFile(credentials + "/worker.key"), key);
}

TEST(InitCredentialsTest, AnotherCa_DoesNotVerifyTheCertificates) {
  TempDir dir;
  ASSERT_OK(InitCredentials(dir.path() + "/a", {"localhost"}));
  ASSERT_OK(InitCredentials(dir.path() + "/b", {"localhost"}));
  auto other_ca = ParseCertificate(ReadFile(dir.path() + "/b/ca.crt"));
  auto worker = ParseCertificate(ReadFile(dir.path() + "/a/worker.crt"));
  ASSERT_NE(other_ca, nullptr);
  ASSERT_NE(worker, nullptr);
  EXPECT_FALSE(ChainsTo(worker.get(), other_ca.get()));
}

TEST(DefaultCredentialHostsTest, Defaults_IncludeLocalhostAndLoopback) {
  EXPECT_THAT(DefaultCredentialHosts(), ::testing::IsSupersetOf({"localhost", "127.0.0.1"}));
}

}  // namespace
}  // namespace gpool
