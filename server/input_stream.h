// A MapStream call's input on the coordinator, apart from the transport: the checks that make
// its messages a job (header first, then batches of values), the segments the input is cut
// into (whole chunks, each run as a job of its own on the Scheduler), the flow-control bound
// (how many segments may run before the next message is read), and the bookkeeping that
// turns the segments' events into one job's: chunk indices and element positions offset by
// the segment's place in the input, one JobStarted, stats added up, the end once the input
// has ended and every segment is done.
//
// Why segments: a streamed input's length is unknown until it ends, and a job's plan (its
// chunk table, its result window) is fixed at its start. A segment is an ordinary job of
// known length, so the scheduler's guarantees (each chunk once, retries, backups, --verify)
// hold for it unchanged, and its input is dropped when it finishes: the coordinator holds
// only the segments in flight and the one being filled.
//
// Thread-compatible: the MapStream adapter's mutex guards it.
#ifndef GPOOL_SERVER_INPUT_STREAM_H_
#define GPOOL_SERVER_INPUT_STREAM_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/job_stats.h"
#include "gpool.pb.h"
#include "server/job.h"
#include "server/job_stream.h"

namespace gpool {

// The chunk size of a stream whose header asks for 0 (its length is unknown, so Pool's rule
// cannot apply).
inline constexpr int64_t kStreamDefaultChunkSize = int64_t{1} << 14;
// The largest chunk of a stream in ResultMode::kSum (in kValues: kMaxValuesChunkSize).
inline constexpr int64_t kStreamMaxSumChunkSize = int64_t{1} << 20;
// Elements per segment, rounded down to whole chunks (at least one chunk).
inline constexpr int64_t kStreamSegmentElements = int64_t{1} << 20;
// Values per MapStreamRequest batch: 2^18 numbers are 2 MiB.
inline constexpr int kMaxStreamBatchValues = 1 << 18;
// A segment of strings or bytes also closes (at the end of a chunk) once it holds this many
// bytes, so that the segments held stay small whatever the elements' size.
inline constexpr uint64_t kStreamSegmentBytes = uint64_t{16} << 20;
// The most input bytes one chunk of a stream may hold: its call must fit 4 MiB.
inline constexpr uint64_t kMaxStreamChunkInputBytes = uint64_t{3} << 20;
// Segments in flight: at least kMinSegmentsInFlight, enough for 4 chunks per slot of the
// job, at most kMaxSegmentsInFlight (so at most 17 segments, 136 MiB, held per stream).
inline constexpr int kMinSegmentsInFlight = 4;
inline constexpr int kMaxSegmentsInFlight = 16;

// One segment of the input, ready to run as a job.
struct StreamSegment {
  uint64_t index = 0;          // 0, 1, ... in input order
  uint64_t first_chunk = 0;    // the stream's index of the segment's chunk 0
  uint64_t first_element = 0;  // the stream's position of the segment's element 0
  JobSpec spec;                // its own job: its values, completed chunks made local
};

class InputStream {
 public:
  // `client` is the call's peer (JobSpec::client).
  explicit InputStream(std::string client);

  // The next message of the call. INVALID_ARGUMENT (the message says what to fix) for a
  // first message that is not a header, a second header, a header with input or
  // shared_values or that Map would refuse, a batch of no values or more than
  // kMaxStreamBatchValues. After an error the stream is broken: the call ends.
  absl::Status Take(const v1::MapStreamRequest& message);
  // The client half-closed: the input is complete. INVALID_ARGUMENT when no header or no
  // value came, or a completed chunk named in the header lies beyond the input's end.
  absl::Status EndOfInput();

  // Whether the adapter should read the next message: the input has not ended, and fewer
  // segments run (or wait to) than the flow-control bound.
  bool WantsInput() const;
  // Segments to submit now (each is then in flight until SegmentFinished), within the bound.
  // A segment whose chunks the client holds already (resuming) is skipped, never submitted.
  std::vector<StreamSegment> TakeSegments();

  // Segment `index` reported its plan: returns the stream's JobStarted to send (the first
  // time only), and widens the flow-control bound to the job's slots.
  std::optional<JobPlanInfo> SegmentStarted(uint64_t index, const JobPlanInfo& plan);
  // A result of segment `index`, as the stream numbers chunks and elements.
  void Translate(uint64_t index, ChunkDelivery& chunk) const;
  // Segment `index` ended OK with `stats`: no longer in flight, its stats added.
  void SegmentFinished(uint64_t index, const JobStats& stats);

  // The input ended and every segment finished: the job succeeded.
  bool Done() const;
  const JobStats& stats() const { return stats_; }
  // Elements received so far (the total once the input ended).
  uint64_t total_elements() const { return total_elements_; }
  uint64_t chunk_size() const { return static_cast<uint64_t>(chunk_size_); }
  int segments_in_flight() const { return static_cast<int>(in_flight_.size()); }
  int max_segments_in_flight() const { return max_in_flight_; }

 private:
  absl::Status TakeHeader(const v1::MapRequest& header);
  // Closes the segment being filled (when it has values) into ready_.
  void CloseSegment();
  // Whether every chunk of the segment starting at chunk `first_chunk` with `chunks` chunks
  // is among the completed ones.
  bool AllCompleted(uint64_t first_chunk, uint64_t chunks) const;

  std::string client_;
  bool has_header_ = false;
  bool ended_ = false;
  // From the header.
  JobSpec template_;
  int64_t chunk_size_ = 0;
  int64_t segment_elements_ = 0;
  // Completed chunks (resuming), merged: first -> last.
  std::map<uint64_t, uint64_t> completed_;
  uint64_t max_completed_ = 0;
  bool any_completed_ = false;

  Elements filling_;  // the segment being filled
  uint64_t filling_bytes_ = 0;   // of its strings or bytes
  uint64_t chunk_bytes_ = 0;     // of the chunk being filled
  uint64_t closed_elements_ = 0;  // in the segments closed so far
  std::deque<StreamSegment> ready_;
  uint64_t next_segment_ = 0;
  uint64_t total_elements_ = 0;
  // Segments submitted and not finished: index -> (first chunk, first element).
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> in_flight_;
  int max_in_flight_ = kMinSegmentsInFlight;
  bool started_ = false;
  JobStats stats_;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_INPUT_STREAM_H_
