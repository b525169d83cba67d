// A set of chunk indices stored as disjoint intervals. Results arrive nearly in order, so a
// job of millions of chunks needs only a handful of intervals: this is how a client proves
// that every chunk arrived exactly once without a bitmap of the whole job.
#ifndef GPOOL_COMMON_INDEX_SET_H_
#define GPOOL_COMMON_INDEX_SET_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace gpool {

// Not thread-safe.
class IndexSet {
 public:
  // Adds `index`; returns false (and changes nothing) if it was already present.
  bool Insert(uint64_t index);
  // Adds every index in [first, last] (first <= last); returns how many were new.
  uint64_t InsertRange(uint64_t first, uint64_t last);
  bool Contains(uint64_t index) const;
  // The smallest index >= `from` that is not in the set.
  uint64_t NextAbsent(uint64_t from) const;
  // The intervals [first, last], in order.
  std::vector<std::pair<uint64_t, uint64_t>> Intervals() const {
    return {intervals_.begin(), intervals_.end()};
  }
  uint64_t size() const { return size_; }
  // True when it holds exactly 0 .. n-1.
  bool HoldsExactlyPrefix(uint64_t n) const;
  // The first `limit` intervals [first, last] of 0 .. n-1 that are missing.
  std::vector<std::pair<uint64_t, uint64_t>> Missing(uint64_t n, size_t limit) const;
  size_t interval_count() const { return intervals_.size(); }

 private:
  // first -> last, inclusive, disjoint and non-adjacent.
  std::map<uint64_t, uint64_t> intervals_;
  uint64_t size_ = 0;
};

}  // namespace gpool

#endif  // GPOOL_COMMON_INDEX_SET_H_
