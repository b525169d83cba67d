#include "client/ordered_values.h"

#include <algorithm>
#include <utility>

namespace gpool {

absl::Status OrderedValues::Add(uint64_t chunk_index, uint64_t first_element,
                                const Elements& values) {
  if (chunk_index != next_chunk_) {
    // Ahead of the next chunk (a chunk below it was delivered already and is a duplicate the
    // caller dropped): kept until the gap closes.
    Held& held = held_[chunk_index];
    held.first_element = first_element;
    held.values = values;
    held_values_ += values.size();
    peak_held_chunks_ = std::max(peak_held_chunks_, held_.size());
    return absl::OkStatus();
  }
  // The common case: straight from the caller's buffer, no copy.
  if (absl::Status status = sink_(first_element, values); !status.ok()) return status;
  ++next_chunk_;
  for (auto it = held_.begin(); it != held_.end() && it->first == next_chunk_;
       it = held_.erase(it)) {
    held_values_ -= it->second.values.size();
    if (absl::Status status = sink_(it->second.first_element, it->second.values); !status.ok()) {
      return status;
    }
    ++next_chunk_;
  }
  return absl::OkStatus();
}

}  // namespace gpool
