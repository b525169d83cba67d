// The gpool client library: run Pool.map-style jobs on a gpool cluster and reduce them.
//
//   auto client = gpool::Client::Connect("127.0.0.1:50051");
//   gpool::MapSpec spec{"square", gpool::Input::Range(1, 5000)};
//   absl::StatusOr<gpool::MapResult> result = (*client)->Map(spec);
//   // result->summary.sum == 41679167500, result->values holds the 5000 squares in input order.
//
// Map blocks until the job is done. MapStreaming hands each chunk to a callback as it
// arrives (completion order) and keeps no values, so its memory does not grow with the job.
// MapOrdered hands the values on in input order as soon as the prefix before them is
// complete, holding only the chunks that arrive ahead of it (a bounded number): what
// `gpool map --print` uses, for jobs of any length.
// Both reduce on the client, exactly (128-bit), and check that every chunk arrived exactly
// once before they report success.
#ifndef GPOOL_CLIENT_CLIENT_H_
#define GPOOL_CLIENT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/cluster_info.h"
#include "common/input.h"
#include "common/elements.h"
#include "common/exact_sum.h"
#include "common/job_stats.h"
#include "common/value_stats.h"
#include "rpc/transport.h"

namespace gpool {

class InputSource;
class JobAssembler;
class SharedValuesBuffer;

struct ClientOptions {
  // How long Connect waits for the coordinator to answer.
  absl::Duration connect_timeout = absl::Seconds(5);
  // Deadline of a whole map job; passing it cancels the job on the cluster.
  absl::Duration map_timeout = absl::Hours(24);
  // Deadline of GetClusterInfo (not counting its optional wait for workers).
  absl::Duration info_timeout = absl::Seconds(10);
  // When the coordinator goes away mid-job (crash, restart, network), wait up to this long
  // for it to come back (looking at least every 250 ms, so a restarted coordinator is
  // reached within about that long of answering), then resubmit only the chunks not
  // received yet. A job that got
  // results before failing UNAVAILABLE (its workers went away and none came back within the
  // coordinator's --worker_wait) is resubmitted the same way, at once. An UNAVAILABLE with
  // nothing received from a coordinator that stays reachable is returned: resubmitting at
  // once would only wait as long again. Zero disables resubmission.
  absl::Duration reconnect_timeout = absl::Seconds(60);
  // Told about reconnections ("lost the coordinator ...", "reconnected ..."); the CLI
  // prints these on stderr.
  std::function<void(const std::string& notice)> on_notice;
  // Jobs that return values offer the workers a shared-memory buffer (common/shared_values.h):
  // those on this host (same user, same PID namespace) write values there instead of sending
  // them through the coordinator; the others send them as usual. Only for jobs of at least
  // shared_values_min_elements elements: below that, the buffer's system calls cost more
  // than they save.
  bool shared_values = true;
  uint64_t shared_values_min_elements = uint64_t{1} << 16;
  // A job's buffer of at most this many bytes is kept for the next job, with its memory:
  // workers then write into pages that exist, instead of the kernel allocating and zeroing
  // one per 4 KiB. A bigger job's buffer frees each chunk's memory as its values are taken.
  uint64_t shared_values_keep_bytes = uint64_t{256} << 20;
  // MapOrdered: about how many bytes of values may wait for the chunks before them. It sets
  // the job's max_chunks_ahead to this many chunks' worth (at least 2), so the client holds
  // at most that much out of order, whatever the job's length. More lets more workers run
  // ahead of the slowest chunk.
  uint64_t ordered_buffer_bytes = uint64_t{64} << 20;
  TransportOptions transport;
};

struct MapSpec {
  std::string function;
  Input input = Input::Range(1, 1);
  // 0: multiprocessing.Pool's default, ceil(len / (4 * slots)).
  int64_t chunk_size = 0;
  // The Pool(processes=N) analog: at most N workers compute the job. 0: no limit.
  int max_workers = 0;
  // Sampled re-execution (MapRequest.verify_fraction): this fraction of the chunks (0 to 1)
  // is computed again on a different worker and used only once two workers agree.
  double verify_fraction = 0;
  // MapRequest.max_chunks_ahead: chunk i runs only once every chunk below i - N has its
  // result. 0: no bound (MapOrdered chooses one from ClientOptions::ordered_buffer_bytes).
  int64_t max_chunks_ahead = 0;
};

// A job over a streamed input (Client::MapStream): MapSpec without the input.
struct MapStreamSpec {
  std::string function;
  // 0: 16,384, the coordinator's default for a stream (Pool's rule needs the length).
  int64_t chunk_size = 0;
  int max_workers = 0;
  double verify_fraction = 0;
};

struct JobStart {
  std::string job_id;
  uint64_t total_elements = 0;
  uint64_t chunk_size = 0;
  uint64_t num_chunks = 0;
  int cluster_slots = 0;  // cpu_count analog: slots of all registered workers
  int job_slots = 0;      // slots of the workers this job may use
  // The coordinator process running the job (JobStarted.coordinator_incarnation; 0: not
  // sent). After a resubmission, that of the coordinator that took it over.
  uint64_t coordinator_incarnation = 0;
  // The function's types (JobStarted.input_type / output_type): the values are of output_type.
  ElementType input_type = ElementType::kInt64;
  ElementType output_type = ElementType::kInt64;
};

struct ChunkResult {
  uint64_t chunk_index = 0;
  uint64_t first_element = 0;  // position in the input of the chunk's first element
  uint64_t element_count = 0;
  Elements values;  // empty unless values were asked for; of the function's output type
  // The chunk's reductions: of int64 values in partial_sum, partial_min and partial_max, of
  // double values in partial_doubles; none for strings and bytes.
  SummaryKind summary = SummaryKind::kNone;
  absl::int128 partial_sum = 0;
  int64_t partial_min = 0;  // smallest / largest mapped value of the chunk
  int64_t partial_max = 0;
  DoubleStats partial_doubles;
  WorkerIdentity worker;
  int attempt = 1;
  // The worker wrote the values to this client's shared-memory buffer (they are in `values`
  // all the same).
  bool values_shared = false;
};

struct MapSummary {
  JobStart job;
  // The reductions: of int64 values (job.output_type) in sum, min and max; of double values
  // in doubles (doubles.sum.Round() is the correctly rounded sum, as math.fsum gives); only
  // the count for strings and bytes.
  absl::int128 sum = 0;
  uint64_t count = 0;
  int64_t min = 0;  // smallest / largest mapped value (the job has at least one element)
  int64_t max = 0;
  DoubleStats doubles;
  JobStats stats;
  // Values that came through the shared-memory buffer rather than over gRPC.
  uint64_t values_shared = 0;
  // Every worker that computed at least one chunk, with how many.
  std::vector<std::pair<WorkerIdentity, int64_t>> chunks_by_worker;
};

struct MapResult {
  MapSummary summary;
  Elements values;  // all mapped values, in input order, of the function's output type
};

// Thread-safe: one Client may run several maps at once from different threads.
class Client {
 public:
  // Opens a channel and waits up to options.connect_timeout for the coordinator.
  // UNAVAILABLE (naming the address and what to check) if it does not answer.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const std::string& address,
                                                         ClientOptions options = {});
  ~Client();

  const std::string& address() const { return address_; }

  // The registered workers and running jobs. With min_workers > 0, first waits up to `wait`
  // for that many workers (DEADLINE_EXCEEDED if they do not come).
  absl::StatusOr<ClusterInfo> GetClusterInfo(int min_workers = 0,
                                             absl::Duration wait = absl::ZeroDuration());

  // Runs the job and returns every value in input order plus the reduction. The optional
  // callbacks see the job start and each chunk as it arrives (completion order).
  absl::StatusOr<MapResult> Map(const MapSpec& spec,
                                const std::function<void(const JobStart&)>& on_start = nullptr,
                                const std::function<void(const ChunkResult&)>& on_chunk = nullptr);

  // Runs the job, calling `on_start` once and `on_chunk` per chunk as results arrive. With
  // want_values false, workers send only partial sums (nothing per element crosses the
  // network) and ChunkResult::values is empty. The coordinator sends a job's start with its
  // first results, and the results of its tail with its end, each at most 0.1 s late (see
  // Map in proto/gpool.proto): a short job arrives in one message.
  // Errors: those of the Map RPC (see proto/gpool.proto), plus DATA_LOSS if the stream broke
  // the exactly-once contract or MapResponse's rules.
  absl::StatusOr<MapSummary> MapStreaming(
      const MapSpec& spec, bool want_values,
      const std::function<void(const JobStart&)>& on_start,
      const std::function<void(const ChunkResult&)>& on_chunk);

  // Runs the job and calls `on_values` with its values in input order (runs of them, each
  // with the input position of its first value), each as soon as every value before it has
  // come; `on_chunk` (optional) sees each chunk as it arrives, for progress. Memory stays
  // bounded whatever the job's length: the job runs at most max_chunks_ahead chunks ahead of
  // the lowest one missing (spec.max_chunks_ahead, or as many as
  // ClientOptions::ordered_buffer_bytes holds), and only those wait here. Shared-memory
  // values are used only for a job whose values fit ClientOptions::shared_values_keep_bytes
  // (the kept buffer is then at most that big). Every chunk is checked as in MapStreaming;
  // after a lost coordinator the job is resubmitted naming the chunks delivered or held.
  // An error `on_values` returns cancels the job and is returned (e.g. the output closed).
  // Errors: MapStreaming's.
  using ValuesSink =
      std::function<absl::Status(uint64_t first_element, const Elements& values)>;
  absl::StatusOr<MapSummary> MapOrdered(
      const MapSpec& spec, const std::function<void(const JobStart&)>& on_start,
      const ValuesSink& on_values,
      const std::function<void(const ChunkResult&)>& on_chunk = nullptr);

  // Maps the values `source` yields, of any number, streaming them to the coordinator
  // (Coordinator.MapStream) in batches as it takes them: neither side holds more than a
  // bounded part of the input. Otherwise as MapStreaming: `on_start` once (its total_elements
  // and num_chunks are 0: the length is not known yet), `on_chunk` per chunk in completion
  // order; the summary's job has them once the input has ended.
  // When the coordinator is lost mid-job (or the job's workers went away after it got
  // results), the job is resubmitted as MapStreaming's is, naming the chunks received: the
  // source is read again from its start (InputSource::Rewind). A source that cannot be read
  // again (stdin, a generator) fails UNAVAILABLE instead, saying so.
  // Errors: MapStream's (see proto/gpool.proto), the source's own, and DATA_LOSS if the
  // stream broke the exactly-once contract.
  absl::StatusOr<MapSummary> MapStream(
      const MapStreamSpec& spec, InputSource& source, bool want_values,
      const std::function<void(const JobStart&)>& on_start,
      const std::function<void(const ChunkResult&)>& on_chunk);

 private:
  Client(std::string address, ClientOptions options);
  // `shared_values_max_elements`: the largest job offered a shared-values buffer.
  absl::StatusOr<MapSummary> RunJob(
      const MapSpec& spec, bool want_values, JobAssembler& assembler,
      const std::function<void(const JobStart&)>& on_start,
      const std::function<absl::Status(const ChunkResult&)>& on_chunk,
      uint64_t shared_values_max_elements = UINT64_MAX);
  void Notice(const std::string& notice) const;
  // A shared-values buffer for a job of `capacity` values (the one kept from an earlier job
  // when it may be reused), or null when none can be made: values then travel over gRPC.
  std::unique_ptr<SharedValuesBuffer> AcquireSharedValues(uint64_t capacity);
  // Whether a buffer of `capacity` values is small enough to keep for the next job.
  bool KeepsSharedValues(uint64_t capacity) const;
  // The job is over: keeps `buffer` for the next job if it is small enough.
  void ReleaseSharedValues(std::unique_ptr<SharedValuesBuffer> buffer);

  struct Stub;
  const std::string address_;
  const ClientOptions options_;
  std::unique_ptr<Stub> stub_;
};

// Validates a spec without a cluster: the same checks the coordinator makes first.
absl::Status ValidateMapSpec(const MapSpec& spec);

}  // namespace gpool

#endif  // GPOOL_CLIENT_CLIENT_H_
