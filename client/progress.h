// The live progress bar of `gpool map` on a terminal: a pure formatter of counts and time,
// and a small drawer that redraws one line in place, rate-limited. Transport-free; the CLI
// decides whether to show it (stderr is a TTY, no --quiet) and feeds it the streamed chunks.
#ifndef GPOOL_CLIENT_PROGRESS_H_
#define GPOOL_CLIENT_PROGRESS_H_

#include <cstdint>
#include <ostream>
#include <set>
#include <string>

#include "absl/time/time.h"
#include "client/client.h"

namespace gpool {

struct ProgressSnapshot {
  uint64_t elements_done = 0;
  uint64_t total_elements = 0;
  int workers = 0;  // distinct workers that have returned chunks of this job
  absl::Duration elapsed;
};

// "[########........]  50.0% 500/1000 elements  2.1k/s  ETA 0.2s  2 workers", at most
// `width` columns (the bar shrinks, then goes, on narrow terminals). The rate is the mean
// since the start; the ETA assumes it holds ("ETA ?" before the first element).
std::string ProgressLine(const ProgressSnapshot& snapshot, int width);

// "850/s", "12.3k/s", "1.2M/s", "4.0G/s".
std::string FormatRate(double per_second);

// Redraws ProgressLine in place on `out` ("\r", the line, erase to end of line), at most once
// per `min_interval`, so a fast job does not flood the terminal. Not thread-safe: the CLI
// calls it from the thread that reads the job's stream.
class ProgressBar {
 public:
  ProgressBar(std::ostream& out, int width, absl::Duration min_interval = absl::Milliseconds(100));

  // The job started (draws the empty bar at once).
  void Start(uint64_t total_elements, absl::Time now);
  // A chunk arrived; redraws if the last draw is at least min_interval old.
  void AddChunk(const ChunkResult& chunk, absl::Time now);
  // Erases the bar if it is on screen, so that other output starts on a clean line. The next
  // due AddChunk draws it again.
  void Clear();

  bool shown() const { return shown_; }
  ProgressSnapshot Snapshot(absl::Time now) const;

 private:
  void Draw(absl::Time now);

  std::ostream& out_;
  const int width_;
  const absl::Duration min_interval_;
  absl::Time start_ = absl::InfinitePast();
  absl::Time last_draw_ = absl::InfinitePast();
  uint64_t total_elements_ = 0;
  uint64_t elements_done_ = 0;
  std::set<std::string> workers_;
  bool shown_ = false;
};

}  // namespace gpool

#endif  // GPOOL_CLIENT_PROGRESS_H_
