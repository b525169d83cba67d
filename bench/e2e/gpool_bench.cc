// End-to-end workloads against a running gpool cluster, through the real client library:
//   W1  the seed job, square over 1..5000, map + sum (warm: the cluster is already up)
//   W2  square over 1..10^7 with every value returned to the caller
//   W3  10^4 one-element chunks
//   W4  reduce-only (sum) square over N elements, workers return partial sums per chunk.
//       square is exact only for |x| <= 3037000499, so N beyond that runs as consecutive
//       jobs over 1..3e9 (the last one shorter), each checked against the closed form.
//   W5  (w5_upper, issue 19; only when named, with --w5_input) the strings of a file, one a
//       line, through the built-in `upper` back to the caller with Client::MapStream (a
//       Map request holds at most 4 MiB of list, and 10^5 strings of 100 bytes are 10 MB;
//       the CLI's --input streams the same way), the strings handed over from memory and
//       put in input order as their chunks arrive: bench/typed.sh's library row, beside the
//       CLI's `gpool map upper --input F --type string --print`. Printed as
//       "system": "gpool_lib", to tell it from the CLI's row.
// Each repetition checks the exact result (against the closed form; W5's against the
// upper-cased input, after the clock stops). Prints one JSON line per workload: median / min /
// max seconds over the timed repetitions and the median rate.
//
//   gpool_bench --coordinator=127.0.0.1:50051 --workloads=w1,w2,w3,w4 --reps=5 --w4_n=1e10
//   gpool_bench --coordinator=127.0.0.1:50051 --workloads=w5_upper --w5_input=strings.txt
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "client/input_source.h"
#include "common/process_tuning.h"
#include "common/int128.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:50051", "The cluster to measure.");
ABSL_FLAG(std::string, workloads, "w1,w2,w3,w4", "Which workloads to run.");
ABSL_FLAG(bool, shared_values, true,
          "Offer workers a shared-memory buffer for values (ClientOptions::shared_values); "
          "false: values come over gRPC through the coordinator.");
ABSL_FLAG(std::string, credentials, "",
          "Directory of TLS credentials (gpool init): measure over mutual TLS with its "
          "client certificate; empty: plain text.");
ABSL_FLAG(int, reps, 5, "Timed repetitions per workload (after the untimed warm-ups).");
ABSL_FLAG(int, warmup, 1, "Untimed repetitions per workload before the timed ones.");
ABSL_FLAG(double, w2_n, 1e7, "W2: elements whose squares are returned.");
ABSL_FLAG(double, w2_chunk, 0, "W2: chunk size (0: the coordinator's default).");
ABSL_FLAG(double, w3_n, 1e4, "W3: number of one-element chunks.");
ABSL_FLAG(double, w4_n, 1e9, "W4: elements of the reduce-only map.");
ABSL_FLAG(double, w4_chunk, 0, "W4: chunk size (0: Pool's default).");
ABSL_FLAG(std::string, w5_input, "",
          "W5: a file of strings, one a line (bench/peers_typed/make_strings.py writes it).");

namespace gpool {
namespace {

absl::int128 SumOfSquares(int64_t n) { return absl::int128(n) * (n + 1) * (2 * n + 1) / 6; }

struct Workload {
  std::string name;
  int64_t elements;
  std::function<absl::Status(Client&)> run;
  // Checks what the last run kept, after the clock stopped (optional).
  std::function<absl::Status()> verify;
  std::string system = "gpool";
};

// W5's input: the lines of `path`, without their newlines.
absl::StatusOr<std::vector<std::string>> ReadLines(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError("cannot open --w5_input " + path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);) lines.push_back(std::move(line));
  if (lines.empty()) return absl::InvalidArgumentError("--w5_input " + path + " is empty");
  return lines;
}

// Strings held in memory, handed to MapStream in its batches as a caller holding them would.
class StringsSource final : public InputSource {
 public:
  explicit StringsSource(const Elements& strings) : strings_(strings) {}
  absl::Status Next(size_t max, std::vector<int64_t>& batch) override {
    return absl::FailedPreconditionError("W5's strings are no int64s");
  }
  ElementType type() const override { return ElementType::kString; }
  absl::Status NextElements(size_t max, uint64_t max_bytes, Elements& batch) override {
    const std::vector<std::string>& all = strings_.texts();
    uint64_t bytes = 0;
    for (size_t added = 0;
         next_ < all.size() && added < max && (added == 0 || bytes < max_bytes); ++added) {
      bytes += all[next_].size();
      batch.mutable_texts().push_back(all[next_++]);
    }
    return absl::OkStatus();
  }
  absl::Status Rewind() override {
    next_ = 0;
    return absl::OkStatus();
  }
  std::string Name() const override { return "W5's strings"; }

 private:
  const Elements& strings_;
  size_t next_ = 0;
};

// What `upper` makes of make_strings.py's ASCII letters and digits.
std::vector<std::string> AsciiUpper(std::vector<std::string> lines) {
  for (std::string& line : lines) {
    for (char& c : line) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return lines;
}

int Main() {
  if (absl::GetFlag(FLAGS_reps) < 1) {
    std::fprintf(stderr, "--reps must be at least 1 (the untimed warm-ups run before them)\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_warmup) < 0) {
    std::fprintf(stderr, "--warmup must be at least 0\n");
    return 2;
  }
  ClientOptions options;
  options.shared_values = absl::GetFlag(FLAGS_shared_values);
  options.transport = TransportFor(Role::kClient, absl::GetFlag(FLAGS_credentials));
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(absl::GetFlag(FLAGS_coordinator), options);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", std::string(client.status().message()).c_str());
    return 1;
  }
  auto check = [](absl::int128 got, absl::int128 want) {
    return got == want ? absl::OkStatus()
                       : absl::InternalError("wrong sum " + FormatInt128(got) + ", expected " +
                                             FormatInt128(want));
  };
  const int64_t w2_n = static_cast<int64_t>(absl::GetFlag(FLAGS_w2_n));
  const int64_t w2_chunk = static_cast<int64_t>(absl::GetFlag(FLAGS_w2_chunk));
  const int64_t w3_n = static_cast<int64_t>(absl::GetFlag(FLAGS_w3_n));
  const int64_t w4_n = static_cast<int64_t>(absl::GetFlag(FLAGS_w4_n));
  const int64_t w4_chunk = static_cast<int64_t>(absl::GetFlag(FLAGS_w4_chunk));
  const std::vector<std::string> wanted = absl::StrSplit(absl::GetFlag(FLAGS_workloads), ',');
  auto named = [&](const std::string& name) {
    return std::find(wanted.begin(), wanted.end(), name) != wanted.end();
  };
  // W5 reads its file only when named: the other workloads need none.
  Elements w5_input(ElementType::kString);
  Elements w5_want(ElementType::kString);
  Elements w5_got(ElementType::kString);
  if (named("w5_upper")) {
    absl::StatusOr<std::vector<std::string>> lines = ReadLines(absl::GetFlag(FLAGS_w5_input));
    if (!lines.ok()) {
      std::fprintf(stderr, "%s\n", std::string(lines.status().message()).c_str());
      return 2;
    }
    w5_want = Elements::Strings(AsciiUpper(*lines));
    w5_input = Elements::Strings(*std::move(lines));
  }
  std::vector<Workload> all = {
      {"w1", 5000,
       [&](Client& c) -> absl::Status {
         MapSpec spec{"square", Input::Range(1, 5000)};
         auto result = c.MapStreaming(spec, false, nullptr, nullptr);
         if (!result.ok()) return result.status();
         return check(result->sum, 41679167500);
       },
       nullptr, "gpool"},
      {"w2", w2_n,
       [&](Client& c) -> absl::Status {
         MapSpec spec{"square", Input::Range(1, w2_n), w2_chunk};
         auto result = c.Map(spec);
         if (!result.ok()) return result.status();
         if (result->values.size() != static_cast<size_t>(w2_n)) {
           return absl::InternalError("wrong number of values");
         }
         return check(result->summary.sum, SumOfSquares(w2_n));
       },
       nullptr, "gpool"},
      {"w3", w3_n,
       [&](Client& c) -> absl::Status {
         MapSpec spec{"square", Input::Range(1, w3_n), /*chunk_size=*/1};
         auto result = c.MapStreaming(spec, false, nullptr, nullptr);
         if (!result.ok()) return result.status();
         return check(result->sum, SumOfSquares(w3_n));
       },
       nullptr, "gpool"},
      {"w4", w4_n,
       [&](Client& c) -> absl::Status {
         constexpr int64_t kLargestJob = 3'000'000'000;
         for (int64_t left = w4_n; left > 0; left -= kLargestJob) {
           const int64_t n = std::min(left, kLargestJob);
           MapSpec spec{"square", Input::Range(1, n), w4_chunk};
           auto result = c.MapStreaming(spec, false, nullptr, nullptr);
           if (!result.ok()) return result.status();
           if (absl::Status status = check(result->sum, SumOfSquares(n)); !status.ok()) {
             return status;
           }
         }
         return absl::OkStatus();
       },
       nullptr, "gpool"},
      {"w5_upper", static_cast<int64_t>(w5_input.size()),
       [&](Client& c) -> absl::Status {
         StringsSource source(w5_input);
         std::vector<std::string>& got = w5_got.mutable_texts();
         got.assign(w5_input.size(), std::string());
         MapStreamSpec spec;
         spec.function = "upper";
         absl::Status placed = absl::OkStatus();
         auto result = c.MapStream(
             spec, source, /*want_values=*/true, nullptr, [&](const ChunkResult& chunk) {
               const std::vector<std::string>& values = chunk.values.texts();
               if (chunk.first_element + values.size() > got.size()) {
                 placed = absl::InternalError("a chunk lies past the input's end");
                 return;
               }
               std::copy(values.begin(), values.end(), got.begin() + chunk.first_element);
             });
         if (!result.ok()) return result.status();
         return placed;
       },
       [&]() -> absl::Status {
         if (w5_got != w5_want) {
           return absl::InternalError("the strings returned are not the upper-cased input");
         }
         w5_got = Elements(ElementType::kString);
         return absl::OkStatus();
       },
       "gpool_lib"},
  };
  for (const Workload& workload : all) {
    if (!named(workload.name)) continue;
    std::vector<double> seconds;
    for (int rep = -absl::GetFlag(FLAGS_warmup); rep < absl::GetFlag(FLAGS_reps); ++rep) {
      const absl::Time start = absl::Now();
      absl::Status status = workload.run(**client);
      const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
      if (status.ok() && workload.verify) status = workload.verify();
      if (!status.ok()) {
        std::fprintf(stderr, "%s failed: %s\n", workload.name.c_str(), status.ToString().c_str());
        return 1;
      }
      if (rep >= 0) seconds.push_back(elapsed);  // negative reps are warm-ups
      std::fprintf(stderr, "%s rep %d: %.6f s\n", workload.name.c_str(), rep, elapsed);
    }
    std::sort(seconds.begin(), seconds.end());
    const double median = seconds[seconds.size() / 2];
    std::printf(
        "{\"system\": \"%s\", \"workload\": \"%s\", \"elements\": %lld, \"median_s\": %.6f, "
        "\"min_s\": %.6f, \"max_s\": %.6f, \"rate_per_s\": %.1f}\n",
        workload.system.c_str(), workload.name.c_str(), static_cast<long long>(workload.elements), median, seconds.front(),
        seconds.back(), workload.elements / median);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace gpool

int main(int argc, char** argv) {
  // The CLI's process settings, so the library is measured as the CLI runs it.
  gpool::TuneProcess();
  absl::ParseCommandLine(argc, argv);
  return gpool::Main();
}
