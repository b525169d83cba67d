// One job's result window: the chunk results pushed to its stream and not yet taken by its
// client, and the values they hold. While it is full the job's dispatch pauses; chunks
// already running still land, so at most the window plus the chunks in flight are buffered:
// the bound on the coordinator's memory per job.
//
// Thread-compatible: the Scheduler's mutex guards it.
#ifndef GPOOL_SERVER_RESULT_WINDOW_H_
#define GPOOL_SERVER_RESULT_WINDOW_H_

#include <algorithm>
#include <cstdint>

namespace gpool {

class ResultWindow {
 public:
  // At most `max_chunks` results holding `max_values` values together before it is full.
  ResultWindow(int64_t max_chunks, int64_t max_values)
      : max_chunks_(max_chunks), max_values_(max_values) {}

  // A result holding `values` values was pushed to the stream.
  void Add(int64_t values) {
    ++chunks_;
    values_ += values;
  }
  // The client took `chunks` results holding `values` values. A client that acknowledges
  // more than it was sent cannot drive the counts below zero.
  void Delivered(int64_t chunks, int64_t values) {
    chunks_ = std::max<int64_t>(0, chunks_ - chunks);
    values_ = std::max<int64_t>(0, values_ - values);
  }

  bool Full() const { return chunks_ >= max_chunks_ || values_ >= max_values_; }
  // How many more results it takes before it is full by count (negative when over).
  int64_t ChunkRoom() const { return max_chunks_ - chunks_; }

 private:
  const int64_t max_chunks_;
  const int64_t max_values_;
  int64_t chunks_ = 0;
  int64_t values_ = 0;
};

}  // namespace gpool

#endif  // GPOOL_SERVER_RESULT_WINDOW_H_
