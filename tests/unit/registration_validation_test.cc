// Unit tests of the limits on what a worker may register (RegisterWorkerRequest): addresses,
// hosts, function names and counts.
#include <string>
#include <vector>

#include "common/address.h"
#include "common/worker_registration.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace gpool {
namespace {

using ::gpool::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

WorkerRegistration Valid() {
  WorkerRegistration registration;
  registration.address = "worker-1.example:50052";
  registration.pid = 42;
  registration.host = "worker-1";
  registration.slots = 4;
  registration.functions = {"square", "cube"};
  registration.incarnation = 7;
  registration.max_chunks_per_call = 16;
  return registration;
}

TEST(ValidateDialAddressTest, HostsAndPorts_AcceptsDnsIpv4AndBracketedIpv6) {
  EXPECT_OK(ValidateDialAddress("worker-1:50052", "address"));
  EXPECT_OK(ValidateDialAddress("w_1.svc.cluster.local:1", "address"));
  EXPECT_OK(ValidateDialAddress("10.0.0.7:65535", "address"));
  EXPECT_OK(ValidateDialAddress("[::1]:50052", "address"));
}

TEST(ValidateDialAddressTest, Uri_IsInvalidArgumentWithHint) {
  EXPECT_THAT(ValidateDialAddress("dns:///worker:1", "address"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("give HOST:PORT")));
  EXPECT_THAT(ValidateDialAddress("http://worker:1", "address"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is a URI")));
}

TEST(ValidateDialAddressTest, BadPort_IsInvalidArgumentNamingTheRange) {
  for (const char* address : {"worker", "worker:", "worker:0", "worker:65536", "worker:+1",
                              "worker:1x", "worker:-1"}) {
    EXPECT_THAT(ValidateDialAddress(address, "address"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("port")))
        << address;
  }
}

TEST(ValidateDialAddressTest, WildcardHost_IsInvalidArgument) {
  EXPECT_THAT(ValidateDialAddress("0.0.0.0:50052", "address"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("every interface")));
  EXPECT_THAT(ValidateDialAddress("[::]:50052", "address"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("every interface")));
}

TEST(ValidateHostTest, NewlineInHost_IsInvalidArgumentAndEscapedInTheMessage) {
  const absl::Status status = ValidateHost("evil\nw9 forged 1 2", "host");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               AllOf(HasSubstr("evil\\nw9"), Not(HasSubstr("\n")))));
}

TEST(ValidateHostTest, HugeHost_IsInvalidArgumentWithAShortMessage) {
  const std::string huge(40 << 20, 'a');
  const absl::Status status = ValidateHost(huge, "host");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("over the limit of 253")));
  EXPECT_LT(status.message().size(), 200u);
}

TEST(ValidateHostTest, BadLabels_AreInvalidArgument) {
  for (const char* host : {"-worker", "worker-", "a..b", ".", "white space", "x:y"}) {
    EXPECT_THAT(ValidateHost(host, "host"), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_))
        << host;
  }
  EXPECT_THAT(ValidateHost(std::string(64, 'a'), "host"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_OK(ValidateHost(std::string(63, 'a'), "host"));
}

TEST(IsLoopbackHostTest, LoopbackAndOthers) {
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.5.6.7"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("localhost.evil"));
}

TEST(SameLocalEndpointTest, SamePortOnThisMachine_IsTheSameEndpoint) {
  EXPECT_TRUE(SameLocalEndpoint("127.0.0.1:50051", "127.0.0.1:50051", "vm"));
  EXPECT_TRUE(SameLocalEndpoint("localhost:50051", "127.0.0.1:50051", "vm"));
  EXPECT_TRUE(SameLocalEndpoint("127.0.0.1:50051", "VM:50051", "vm"));
  EXPECT_TRUE(SameLocalEndpoint("worker-7:1", "WORKER-7:1", "vm"));
  EXPECT_FALSE(SameLocalEndpoint("127.0.0.1:50052", "127.0.0.1:50051", "vm"));
  EXPECT_FALSE(SameLocalEndpoint("10.0.0.5:50051", "vm:50051", "vm"));
  EXPECT_FALSE(SameLocalEndpoint("other:50051", "127.0.0.1:50051", "vm"));
  EXPECT_FALSE(SameLocalEndpoint("no-port", "127.0.0.1:50051", "vm"));
}

TEST(ValidateRegistrationTest, ValidRegistration_IsOk) { EXPECT_OK(ValidateRegistration(Valid())); }

TEST(ValidateRegistrationTest, PidBelowOne_IsInvalidArgument) {
  for (int64_t pid : {0, -1}) {
    WorkerRegistration registration = Valid();
    registration.pid = pid;
    EXPECT_THAT(ValidateRegistration(registration),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pid must be >= 1")));
  }
}

TEST(ValidateRegistrationTest, SlotsOverflowingTotals_IsInvalidArgument) {
  WorkerRegistration registration = Valid();
  registration.slots = 2147483647;
  EXPECT_THAT(ValidateRegistration(registration),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("slots must be 1 to 4096, got 2147483647")));
}

TEST(ValidateRegistrationTest, SlotsAndChunksPerCallAtTheirBounds) {
  WorkerRegistration registration = Valid();
  registration.slots = kMaxSlots;
  registration.max_chunks_per_call = kMaxChunksPerCall;
  EXPECT_OK(ValidateRegistration(registration));
  registration.slots = 0;
  EXPECT_THAT(ValidateRegistration(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("slots")));
  registration.slots = 1;
  registration.max_chunks_per_call = kMaxChunksPerCall + 1;
  EXPECT_THAT(ValidateRegistration(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_chunks_per_call")));
}

TEST(ValidateRegistrationTest, BadFunctionNames_AreInvalidArgument) {
  for (const std::string& name :
       {std::string(), std::string("two words"), std::string("line\nbreak"),
        std::string(kMaxFunctionNameBytes + 1, 'f')}) {
    WorkerRegistration registration = Valid();
    registration.functions = {"square", name};
    EXPECT_THAT(ValidateRegistration(registration),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("functions")))
        << name;
  }
}

TEST(ValidateRegistrationTest, RepeatedFunction_IsInvalidArgument) {
  WorkerRegistration registration = Valid();
  registration.functions = {"square", "square"};
  EXPECT_THAT(ValidateRegistration(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
}

TEST(ValidateRegistrationTest, TooManyFunctions_IsInvalidArgumentNamingTheLimit) {
  WorkerRegistration registration = Valid();
  registration.functions.clear();
  for (int i = 0; i <= kMaxFunctionsPerWorker; ++i) {
    registration.functions.push_back("f" + std::to_string(i));
  }
  EXPECT_THAT(ValidateRegistration(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("over the limit of 1024")));
  registration.functions.pop_back();
  EXPECT_OK(ValidateRegistration(registration));
}

TEST(ValidateRegistrationTest, AddressWithoutPort_IsInvalidArgument) {
  WorkerRegistration registration = Valid();
  registration.address = "worker-1";
  EXPECT_THAT(ValidateRegistration(registration),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no port")));
}

}  // namespace
}  // namespace gpool
