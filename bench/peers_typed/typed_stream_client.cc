// W5's gRPC limit, client side: one server-streaming Upper call reads all the strings of
// typed_stream_server, in batches of --batch; warm (one channel, untimed calls first), the
// median of --reps calls. Writes the strings of its first call to --output (one a line) for
// the caller to check, and prints one JSON line like bench/compare.sh's.
//
//   typed_stream_client --address=127.0.0.1:PORT --batch=4096 --reps=5 --output=FILE
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "typed_stream.grpc.pb.h"

ABSL_FLAG(std::string, address, "", "The typed_stream_server, HOST:PORT.");
ABSL_FLAG(int, batch, 4096, "Strings per message.");
ABSL_FLAG(int, reps, 5, "Timed calls.");
ABSL_FLAG(int, warmup, 1, "Untimed calls before them (the first also writes --output).");
ABSL_FLAG(std::string, output, "", "Where to write the strings of the first call.");

namespace gpool::bench {
namespace {

struct Received {
  int64_t strings = 0;
  int64_t bytes = 0;
};

// One Upper call, read to its end; each string goes to `out` when there is one.
bool ReadAll(typed::TypedStream::Stub& stub, std::ofstream* out, Received& received) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
  typed::UpperRequest request;
  request.set_batch(absl::GetFlag(FLAGS_batch));
  std::unique_ptr<grpc::ClientReader<typed::StringBatch>> reader = stub.Upper(&context, request);
  typed::StringBatch batch;
  while (reader->Read(&batch)) {
    for (const std::string& value : batch.values()) {
      received.bytes += static_cast<int64_t>(value.size());
      if (out != nullptr) *out << value << '\n';
    }
    received.strings += batch.values_size();
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    std::fprintf(stderr, "typed_stream_client: %s\n", status.error_message().c_str());
    return false;
  }
  return true;
}

int Main() {
  const int reps = absl::GetFlag(FLAGS_reps);
  const int warmup = std::max(1, absl::GetFlag(FLAGS_warmup));
  if (reps < 1) {
    std::fprintf(stderr, "typed_stream_client: --reps must be at least 1\n");
    return 2;
  }
  auto stub = typed::TypedStream::NewStub(
      grpc::CreateChannel(absl::GetFlag(FLAGS_address), grpc::InsecureChannelCredentials()));
  Received first;
  std::ofstream out;
  if (!absl::GetFlag(FLAGS_output).empty()) out.open(absl::GetFlag(FLAGS_output));
  if (!ReadAll(*stub, out.is_open() ? &out : nullptr, first)) return 1;
  out.close();
  for (int i = 1; i < warmup; ++i) {
    Received ignored;
    if (!ReadAll(*stub, nullptr, ignored)) return 1;
  }
  std::vector<double> times;
  for (int rep = 0; rep < reps; ++rep) {
    Received received;
    const auto started = std::chrono::steady_clock::now();
    if (!ReadAll(*stub, nullptr, received)) return 1;
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                        .count());
    if (received.strings != first.strings || received.bytes != first.bytes) {
      std::fprintf(stderr, "typed_stream_client: calls disagree on what they received\n");
      return 1;
    }
  }
  std::sort(times.begin(), times.end());
  const double median =
      reps % 2 ? times[reps / 2] : (times[reps / 2 - 1] + times[reps / 2]) / 2;
  std::printf(
      "{\"system\": \"grpc_stream\", \"workload\": \"w5_upper\", \"elements\": %lld, "
      "\"bytes\": %lld, \"batch\": %d, \"reps\": %d, \"median_s\": %.9g, \"min_s\": %.9g, "
      "\"max_s\": %.9g, \"rate_per_s\": %.9g}\n",
      static_cast<long long>(first.strings), static_cast<long long>(first.bytes),
      absl::GetFlag(FLAGS_batch), reps, median, times.front(), times.back(),
      static_cast<double>(first.strings) / median);
  return 0;
}

}  // namespace
}  // namespace gpool::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return gpool::bench::Main();
}
