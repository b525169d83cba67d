// Integration tests of issue 18's security with the real binaries on loopback: a cluster with
// --credentials (mutual TLS, roles per RPC) computes the exact answer; a client without a
// certificate, with one from another CA or an expired one is refused and told about
// --credentials; a certificate of the wrong role gets PERMISSION_DENIED naming the role and
// the RPC; a worker cannot heartbeat or leave in another's name; without credentials a
// daemon refuses a non-loopback --listen unless --insecure.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/local_cluster.h"
#include "client/pki.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gpool.grpc.pb.h"
#include "gtest/gtest.h"
#include "rpc/transport.h"
#include "tests/support/integration_helpers.h"
#include "tests/support/status_matchers.h"
#include "tests/support/wire_signature.h"

namespace gpool {
namespace {

using ::gpool::testing::BinaryPath;
using ::gpool::testing::CliRun;
using ::gpool::testing::ReadFile;
using ::gpool::testing::RunCli;
using ::gpool::testing::RunProgram;
using ::gpool::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kSeedSum[] = "The sum of the square of the first 5000 integers is 41679167500";

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + std::chrono::seconds(10);
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    credentials_ = dir_.path() + "/credentials";
    ASSERT_OK(InitCredentials(credentials_, DefaultCredentialHosts()));
  }

  // A coordinator and `workers` workers with this test's credentials, all registered.
  void StartSecureCluster(int workers) {
    LocalClusterOptions options;
    options.workers = workers;
    const std::string gpool = BinaryPath("gpool");
    options.binary_dir = gpool.substr(0, gpool.rfind('/'));
    options.coordinator_flags = {"--credentials=" + credentials_};
    options.worker_flags = {"--credentials=" + credentials_};
    // The cluster's own client would speak plain text; this test's waits instead.
    options.await_workers = false;
    options.keep_logs = true;
    absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ClientOptions client_options;
    client_options.transport = TransportFor(Role::kClient, credentials_);
    absl::StatusOr<std::unique_ptr<Client>> client =
        Client::Connect(cluster_->address(), client_options);
    ASSERT_TRUE(client.ok()) << client.status();
    ASSERT_OK(cluster_->AwaitWorkers(**client));
    client_ = *std::move(client);
  }

  std::unique_ptr<v1::Coordinator::Stub> CoordinatorStub(Role role) const {
    return v1::Coordinator::NewStub(
        CreateChannel(cluster_->address(), TransportFor(role, credentials_)));
  }

  CliRun Map(const std::string& credentials) const {
    std::vector<std::string> args = {"--coordinator=" + cluster_->address(),
                                     "--connect_timeout=3s", "--reconnect_timeout=0s"};
    if (!credentials.empty()) args.push_back("--credentials=" + credentials);
    for (const char* arg : {"map", "square", "1..5000"}) args.push_back(arg);
    return RunCli(args);
  }

  // A directory `name` in the test's own, with what a client reads: the CA's certificate, and
  // a client certificate and key (which may be of another role, or expired).
  std::string WriteClientCredentials(const std::string& name, const std::string& ca_crt,
                                     const std::string& client_crt,
                                     const std::string& client_key) const {
    const std::string path = dir_.path() + "/" + name;
    EXPECT_EQ(mkdir(path.c_str(), 0700), 0) << path;
    EXPECT_OK(WriteFileAtomically(path + "/ca.crt", ca_crt));
    EXPECT_OK(WriteFileAtomically(path + "/client.crt", client_crt));
    EXPECT_OK(WriteFileAtomically(path + "/client.key", client_key));
    return path;
  }

  // The CLI could not open a session: exit 3, and the error points to --credentials.
  static void ExpectRefusedPointingToCredentials(const CliRun& run) {
    EXPECT_EQ(run.exit_code, 3) << run.out;
    EXPECT_THAT(run.err, HasSubstr("--credentials"));
  }

  TempDir dir_;
  std::string credentials_;
  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<Client> client_;
};

TEST_F(SecurityTest, Map_WithCredentials_PrintsTheExactSum) {
  StartSecureCluster(2);
  const CliRun run = Map(credentials_);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(kSeedSum));
}

TEST_F(SecurityTest, Map_WithoutCredentials_IsRefusedAndPointsToCredentials) {
  StartSecureCluster(1);
  const CliRun run = Map("");
  ExpectRefusedPointingToCredentials(run);
  EXPECT_THAT(run.out, Not(HasSubstr(kSeedSum)));
}

TEST_F(SecurityTest, Map_CertificateOfAnotherCa_IsRefusedAndPointsToCredentials) {
  StartSecureCluster(1);
  const std::string other = dir_.path() + "/other";
  ASSERT_OK(InitCredentials(other, DefaultCredentialHosts()));
  const CliRun run = Map(other);
  ExpectRefusedPointingToCredentials(run);
}

TEST_F(SecurityTest, Map_ExpiredClientCertificate_IsRefusedAndPointsToCredentials) {
  StartSecureCluster(1);
  // The cluster's own CA, but a client certificate that expired yesterday.
  const KeyAndCertificate ca{ReadFile(credentials_ + "/ca.key"),
                             ReadFile(credentials_ + "/ca.crt")};
  const absl::Time now = absl::Now();
  ASSERT_OK_AND_ASSIGN(KeyAndCertificate client,
                       IssueCertificate(ca, Role::kClient, {}, now - absl::Hours(48),
                                        now - absl::Hours(24)));
  const std::string expired = WriteClientCredentials("expired", ca.certificate_pem,
                                                     client.certificate_pem, client.key_pem);
  const CliRun run = Map(expired);
  ExpectRefusedPointingToCredentials(run);
}

TEST_F(SecurityTest, Info_WorkerCredentialsAsTheClients_ExitsTwoNamingRoleAndRpc) {
  StartSecureCluster(1);
  // A directory whose client certificate is really the worker's.
  const std::string stolen = WriteClientCredentials("stolen", ReadFile(credentials_ + "/ca.crt"),
                                                    ReadFile(credentials_ + "/worker.crt"),
                                                    ReadFile(credentials_ + "/worker.key"));
  const CliRun run =
      RunCli({"--coordinator=" + cluster_->address(), "--credentials=" + stolen, "info"});
  EXPECT_EQ(run.exit_code, 2) << run.out;
  EXPECT_EQ(run.err,
            "gpool: error: role worker may not call gpool.v1.Coordinator/GetClusterInfo "
            "(PERMISSION_DENIED)\n");
}

TEST_F(SecurityTest, Map_CertificateOfAnotherCa_PrintsOneErrorLine) {
  StartSecureCluster(1);
  const std::string other = dir_.path() + "/other";
  ASSERT_OK(InitCredentials(other, DefaultCredentialHosts()));
  const CliRun run = Map(other);
  // gRPC's own log of each failed handshake stays out of the CLI's output.
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
}

TEST_F(SecurityTest, RegisterWorker_ClientCertificate_PermissionDenied) {
  StartSecureCluster(1);
  v1::RegisterWorkerRequest request;
  request.set_address("127.0.0.1:1");
  request.set_pid(1);
  request.set_host("rogue");
  request.set_slots(1);
  ::gpool::testing::SetSignature(request.add_functions(), "square");
  request.set_incarnation(7);
  request.set_max_chunks_per_call(1);
  v1::RegisterWorkerResponse response;
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  const grpc::Status status =
      CoordinatorStub(Role::kClient)->RegisterWorker(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(),
            "role client may not call gpool.v1.Coordinator/RegisterWorker");
}

TEST_F(SecurityTest, Map_WorkerCertificate_PermissionDenied) {
  StartSecureCluster(1);
  v1::MapRequest request;
  request.set_function("square");
  request.mutable_input()->mutable_range()->set_start(1);
  request.mutable_input()->mutable_range()->set_end(10);
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  auto stub = CoordinatorStub(Role::kWorker);
  std::unique_ptr<grpc::ClientReader<v1::MapResponse>> reader = stub->Map(&context, request);
  v1::MapResponse response;
  EXPECT_FALSE(reader->Read(&response));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "role worker may not call gpool.v1.Coordinator/Map");
}

TEST_F(SecurityTest, RunChunks_ClientCertificate_PermissionDenied) {
  StartSecureCluster(1);
  ASSERT_OK_AND_ASSIGN(ClusterInfo view, client_->GetClusterInfo());
  ASSERT_EQ(view.workers.size(), 1u);
  TransportOptions transport = TransportFor(Role::kClient, credentials_);
  transport.server_role = Role::kWorker;
  auto worker = v1::Worker::NewStub(CreateChannel(view.workers[0].address, transport));
  v1::RunChunksRequest request;
  request.set_job_id("job-x");
  request.set_function("square");
  v1::RunChunksResponse response;
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  const grpc::Status status = worker->RunChunks(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "role client may not call gpool.v1.Worker/RunChunks");
}

// Every worker holds the same worker certificate, so the certificate alone cannot stop one
// worker from claiming another's address: the live worker confirms its incarnation to the
// coordinator over TLS, and the claim is refused.
TEST_F(SecurityTest, RegisterWorker_WorkerCertificateClaimingALiveWorkersAddress_AlreadyExists) {
  StartSecureCluster(1);
  ASSERT_OK_AND_ASSIGN(ClusterInfo before, client_->GetClusterInfo());
  ASSERT_EQ(before.workers.size(), 1u);
  v1::RegisterWorkerRequest registration;
  registration.set_address(before.workers[0].address);
  registration.set_pid(4242);
  registration.set_host("impostor");
  registration.set_slots(1);
  ::gpool::testing::SetSignature(registration.add_functions(), "square");
  registration.set_incarnation(0x1badcafe);
  registration.set_max_chunks_per_call(1);
  v1::RegisterWorkerResponse registered;
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  const grpc::Status status =
      CoordinatorStub(Role::kWorker)->RegisterWorker(&context, registration, &registered);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr(before.workers[0].ref.worker_id));
  ASSERT_OK_AND_ASSIGN(ClusterInfo after, client_->GetClusterInfo());
  ASSERT_EQ(after.workers.size(), 1u);
  EXPECT_EQ(after.workers[0].ref.worker_id, before.workers[0].ref.worker_id);
}

// Nor may one worker ask another about its incarnation: only the coordinator may.
TEST_F(SecurityTest, ConfirmIncarnation_WorkerCertificate_PermissionDenied) {
  StartSecureCluster(1);
  ASSERT_OK_AND_ASSIGN(ClusterInfo view, client_->GetClusterInfo());
  ASSERT_EQ(view.workers.size(), 1u);
  TransportOptions transport = TransportFor(Role::kWorker, credentials_);
  transport.server_role = Role::kWorker;
  auto worker = v1::Worker::NewStub(CreateChannel(view.workers[0].address, transport));
  v1::ConfirmIncarnationRequest request;
  request.set_incarnation(1);
  v1::ConfirmIncarnationResponse response;
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  const grpc::Status status = worker->ConfirmIncarnation(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(),
            "role worker may not call gpool.v1.Worker/ConfirmIncarnation");
}

TEST_F(SecurityTest, Heartbeat_AnotherWorkersIncarnation_IsRefused) {
  StartSecureCluster(0);
  auto stub = CoordinatorStub(Role::kWorker);
  v1::RegisterWorkerRequest registration;
  registration.set_address("127.0.0.1:1");
  registration.set_pid(1);
  registration.set_host("victim");
  registration.set_slots(1);
  ::gpool::testing::SetSignature(registration.add_functions(), "square");
  registration.set_incarnation(0x5eC12E7);
  registration.set_max_chunks_per_call(1);
  v1::RegisterWorkerResponse registered;
  grpc::ClientContext register_context;
  register_context.set_deadline(Deadline());
  ASSERT_TRUE(stub->RegisterWorker(&register_context, registration, &registered).ok());

  // Another worker knows the victim's id (it is shown by `gpool status`), not its secret.
  v1::HeartbeatRequest beat;
  beat.set_worker_id(registered.worker_id());
  beat.set_incarnation(registration.incarnation() + 1);
  beat.set_heartbeat_interval_ms(500);
  v1::HeartbeatResponse beat_response;
  grpc::ClientContext beat_context;
  beat_context.set_deadline(Deadline());
  EXPECT_EQ(stub->Heartbeat(&beat_context, beat, &beat_response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::WorkerLeaveRequest leave;
  leave.set_worker_id(registered.worker_id());
  leave.set_incarnation(registration.incarnation() + 1);
  v1::WorkerLeaveResponse left;
  grpc::ClientContext drain_context;
  drain_context.set_deadline(Deadline());
  EXPECT_EQ(stub->DrainWorker(&drain_context, leave, &left).error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext deregister_context;
  deregister_context.set_deadline(Deadline());
  EXPECT_EQ(stub->DeregisterWorker(&deregister_context, leave, &left).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // The victim is still registered.
  ASSERT_OK_AND_ASSIGN(ClusterInfo view, client_->GetClusterInfo());
  ASSERT_EQ(view.workers.size(), 1u);
  EXPECT_EQ(view.workers[0].ref.worker_id, registered.worker_id());
}

TEST_F(SecurityTest, Health_AnyRoleWithCredentials_ReportsServing) {
  StartSecureCluster(1);
  const CliRun run = RunCli({"--credentials=" + credentials_, "health", cluster_->address()});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "SERVING\n");
}

TEST_F(SecurityTest, Map_CoordinatorCertificateNotForTheHostDialed_IsRefused) {
  // Credentials valid for "localhost" only, dialed at 127.0.0.1.
  credentials_ = dir_.path() + "/localhost-only";
  ASSERT_OK(InitCredentials(credentials_, {"localhost"}));
  LocalClusterOptions options;
  options.workers = 0;
  const std::string gpool = BinaryPath("gpool");
  options.binary_dir = gpool.substr(0, gpool.rfind('/'));
  options.coordinator_flags = {"--credentials=" + credentials_};
  options.await_workers = false;
  ASSERT_OK_AND_ASSIGN(cluster_, LocalCluster::Start(options));
  ASSERT_THAT(cluster_->address(), ::testing::StartsWith("127.0.0.1:"));
  const CliRun run = Map(credentials_);
  EXPECT_EQ(run.exit_code, 3) << run.out;
}

TEST_F(SecurityTest, Map_WorkerPosingAsTheCoordinator_IsRefused) {
  StartSecureCluster(1);
  ASSERT_OK_AND_ASSIGN(ClusterInfo view, client_->GetClusterInfo());
  ASSERT_EQ(view.workers.size(), 1u);
  // The worker's certificate chains to the CA and names 127.0.0.1, but it is a worker's.
  const CliRun run =
      RunCli({"--coordinator=" + view.workers[0].address, "--credentials=" + credentials_,
              "--connect_timeout=3s", "--reconnect_timeout=0s", "map", "square", "1..10"});
  ExpectRefusedPointingToCredentials(run);
}

TEST_F(SecurityTest, Map_CredentialsReplacedInTheDirectory_AreUsedWithoutRestart) {
  StartSecureCluster(1);
  const std::string new_credentials = dir_.path() + "/new";
  ASSERT_OK(InitCredentials(new_credentials, DefaultCredentialHosts()));
  const std::string old_credentials = WriteClientCredentials(
      "old", ReadFile(credentials_ + "/ca.crt"), ReadFile(credentials_ + "/client.crt"),
      ReadFile(credentials_ + "/client.key"));
  // Every file of the daemons' directory replaced by one of another CA, each by a rename.
  for (const char* file : {"ca.crt", "coordinator.key", "coordinator.crt", "worker.key",
                           "worker.crt", "client.key", "client.crt"}) {
    ASSERT_OK(WriteFileAtomically(credentials_ + "/" + file,
                                  ReadFile(new_credentials + "/" + file)));
  }
  // Within the refresh interval the running coordinator presents the new certificate.
  CliRun with_new;
  EXPECT_TRUE(gpool::testing::WaitUntil(
      [&] {
        with_new = Map(new_credentials);
        return with_new.exit_code == 0;
      },
      absl::Seconds(3 * kCredentialsRefreshSeconds), absl::Milliseconds(500)))
      << with_new.err;
  EXPECT_THAT(with_new.out, HasSubstr(kSeedSum));
  const CliRun with_old = Map(old_credentials);
  EXPECT_EQ(with_old.exit_code, 3) << with_old.out;
}

// ---- loopback only without credentials --------------------------------------------------

TEST(ListenTest, Coordinator_NonLoopbackListenWithoutCredentials_ExitsTwoNamingInitAndInsecure) {
  const CliRun run = RunProgram({BinaryPath("gpool-coordinator"), "--listen=0.0.0.0:0"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("gpool init"));
  EXPECT_THAT(run.err, HasSubstr("--insecure"));
}

TEST(ListenTest, Worker_NonLoopbackListenWithoutCredentials_ExitsTwoNamingInitAndInsecure) {
  const CliRun run = RunProgram(
      {BinaryPath("gpool-worker"), "--coordinator=127.0.0.1:1", "--listen=0.0.0.0:0"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("gpool init"));
  EXPECT_THAT(run.err, HasSubstr("--insecure"));
}

TEST(ListenTest, Coordinator_MissingCredentialFiles_ExitsTwoNamingTheFile) {
  TempDir dir;
  const CliRun run = RunProgram({BinaryPath("gpool-coordinator"), "--listen=127.0.0.1:0",
                                 "--credentials=" + dir.path()});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr(dir.path() + "/ca.crt"));
}

TEST(ListenTest, Coordinator_NonLoopbackListenInsecure_ServesAndWarns) {
  TempDir dir;
  SpawnOptions spawn;
  spawn.stdout_path = dir.path() + "/out";
  spawn.stderr_path = dir.path() + "/err";
  const std::string port_file = dir.path() + "/port";
  ASSERT_OK_AND_ASSIGN(pid_t pid,
                       SpawnProcess({BinaryPath("gpool-coordinator"), "--listen=0.0.0.0:0",
                                     "--insecure", "--port_file=" + port_file},
                                    spawn));
  absl::StatusOr<std::string> port = WaitForFileLine(port_file, absl::Seconds(20));
  StopProcess(pid, absl::Seconds(10)).IgnoreError();
  ASSERT_TRUE(port.ok()) << port.status() << ReadFile(spawn.stderr_path);
  EXPECT_THAT(ReadFile(spawn.stderr_path), HasSubstr("--insecure: serving plain text on 0.0.0.0"));
}

}  // namespace
}  // namespace gpool
