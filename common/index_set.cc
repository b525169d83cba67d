#include "common/index_set.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace gpool {

bool IndexSet::Contains(uint64_t index) const {
  auto it = intervals_.upper_bound(index);
  if (it == intervals_.begin()) return false;
  --it;
  return index <= it->second;
}

uint64_t IndexSet::InsertRange(uint64_t first, uint64_t last) {
  uint64_t merged_first = first;
  uint64_t merged_last = last;
  uint64_t covered = 0;  // indices of [first, last] already present
  // Every interval that overlaps or touches [first, last] is merged into one.
  auto it = intervals_.upper_bound(first);
  if (it != intervals_.begin() && std::prev(it)->second + 1 >= first) --it;
  while (it != intervals_.end() && (last == UINT64_MAX || it->first <= last + 1)) {
    const uint64_t overlap_first = std::max(it->first, first);
    const uint64_t overlap_last = std::min(it->second, last);
    if (overlap_first <= overlap_last) covered += overlap_last - overlap_first + 1;
    merged_first = std::min(merged_first, it->first);
    merged_last = std::max(merged_last, it->second);
    it = intervals_.erase(it);
  }
  intervals_.emplace(merged_first, merged_last);
  const uint64_t added = (last - first + 1) - covered;
  size_ += added;
  return added;
}

uint64_t IndexSet::NextAbsent(uint64_t from) const {
  auto it = intervals_.upper_bound(from);
  if (it == intervals_.begin()) return from;
  --it;
  return from <= it->second ? it->second + 1 : from;
}

bool IndexSet::Insert(uint64_t index) {
  if (Contains(index)) return false;
  ++size_;
  auto next = intervals_.upper_bound(index);
  const bool joins_next = next != intervals_.end() && next->first == index + 1;
  bool joins_previous = false;
  auto previous = next;
  if (next != intervals_.begin()) {
    previous = std::prev(next);
    joins_previous = previous->second + 1 == index;
  }
  if (joins_previous && joins_next) {
    previous->second = next->second;
    intervals_.erase(next);
  } else if (joins_previous) {
    previous->second = index;
  } else if (joins_next) {
    const uint64_t last = next->second;
    intervals_.erase(next);
    intervals_.emplace(index, last);
  } else {
    intervals_.emplace(index, index);
  }
  return true;
}

bool IndexSet::HoldsExactlyPrefix(uint64_t n) const {
  if (n == 0) return intervals_.empty();
  return intervals_.size() == 1 && intervals_.begin()->first == 0 &&
         intervals_.begin()->second == n - 1;
}

std::vector<std::pair<uint64_t, uint64_t>> IndexSet::Missing(uint64_t n, size_t limit) const {
  std::vector<std::pair<uint64_t, uint64_t>> gaps;
  uint64_t next_expected = 0;
  for (const auto& [first, last] : intervals_) {
    if (gaps.size() >= limit || first >= n) break;
    if (first > next_expected) gaps.emplace_back(next_expected, first - 1);
    next_expected = last + 1;
  }
  if (gaps.size() < limit && next_expected < n) gaps.emplace_back(next_expected, n - 1);
  return gaps;
}

}  // namespace gpool
