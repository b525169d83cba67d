// A job's values in input order, as soon as the prefix before them is complete: chunk results
// arrive in completion order, and each is either handed on at once (it is the next chunk)
// or held until the chunks before it have come. Only chunks ahead of the next one wait here;
// with MapRequest.max_chunks_ahead = N at most N - 1 of them do, however long the job.
// Transport-free, so the reordering is unit-tested alone.
//
// Not thread-safe; one per job.
#ifndef GPOOL_CLIENT_ORDERED_VALUES_H_
#define GPOOL_CLIENT_ORDERED_VALUES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

#include "common/elements.h"

namespace gpool {

class OrderedValues {
 public:
  // Gets each run of values in input order, with the position in the job's input of its
  // first one. An error it returns stops the delivery and is returned by Add.
  using Sink = std::function<absl::Status(uint64_t first_element, const Elements& values)>;

  explicit OrderedValues(Sink sink) : sink_(std::move(sink)) {}

  // Chunk `chunk_index` (accepted once: the caller has checked it against the plan and
  // dropped duplicates) holds `values`, from `first_element` on. Delivers it, and every
  // held chunk it unblocks, when it is the next chunk; else keeps a copy.
  absl::Status Add(uint64_t chunk_index, uint64_t first_element, const Elements& values);

  // The chunk index delivery waits for: every chunk below it has been delivered.
  uint64_t next_chunk() const { return next_chunk_; }
  // Chunks held ahead of next_chunk, and their values.
  size_t held_chunks() const { return held_.size(); }
  uint64_t held_values() const { return held_values_; }
  // The most chunks held at once so far.
  size_t peak_held_chunks() const { return peak_held_chunks_; }

 private:
  struct Held {
    uint64_t first_element = 0;
    Elements values;
  };

  Sink sink_;
  uint64_t next_chunk_ = 0;
  std::map<uint64_t, Held> held_;
  uint64_t held_values_ = 0;
  size_t peak_held_chunks_ = 0;
};

}  // namespace gpool

#endif  // GPOOL_CLIENT_ORDERED_VALUES_H_
