#include "rpc/message_limits.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace gpool {

absl::Status CheckMapRequestSize(const v1::MapRequest& request, absl::StatusCode code) {
  const size_t bytes = request.ByteSizeLong();
  if (bytes <= static_cast<size_t>(kMaxMapRequestBytes)) return absl::OkStatus();
  std::string what;
  if (request.input().has_list()) {
    const v1::Elements& list = request.input().list();
    const int count = list.int64s().values_size() + list.doubles().values_size() +
                      list.strings().values_size() + list.blobs().values_size();
    what = absl::StrCat(" (a list of ", count, " values)");
  }
  return absl::Status(
      code, absl::StrCat("the Map request is ", bytes, " bytes", what, ", over the limit of ",
                         kMaxMapRequestBytes, " bytes (4 MiB messages, less 64 KiB): stream "
                         "the list instead (MapStream, any length; gpool map --input FILE "
                         "streams), or map a range (a range travels as two numbers, whatever "
                         "its length)"));
}

uint64_t SetCompletedChunksWithinLimit(
    const std::vector<std::pair<uint64_t, uint64_t>>& received, v1::MapRequest* request) {
  request->clear_completed_chunks();
  const size_t base_bytes = request->ByteSizeLong();
  // Longest first, so that what fits saves the most work.
  std::vector<std::pair<uint64_t, uint64_t>> by_length = received;
  std::stable_sort(by_length.begin(), by_length.end(), [](const auto& a, const auto& b) {
    return a.second - a.first > b.second - b.first;
  });
  size_t bytes = base_bytes;
  std::vector<std::pair<uint64_t, uint64_t>> kept;
  for (const auto& [first, last] : by_length) {
    v1::ChunkRange range;
    range.set_first(static_cast<int64_t>(first));
    range.set_last(static_cast<int64_t>(last));
    const size_t range_bytes = range.ByteSizeLong();
    // The field's tag and the range's length prefix: at most 1 + 5 bytes.
    const size_t added = range_bytes + 6;
    if (bytes + added > static_cast<size_t>(kMaxMapRequestBytes)) continue;
    bytes += added;
    kept.emplace_back(first, last);
  }
  // In index order, as a reader of the request would expect.
  std::sort(kept.begin(), kept.end());
  uint64_t claimed = 0;
  for (const auto& [first, last] : kept) {
    v1::ChunkRange* range = request->add_completed_chunks();
    range->set_first(static_cast<int64_t>(first));
    range->set_last(static_cast<int64_t>(last));
    claimed += last - first + 1;
  }
  return claimed;
}

}  // namespace gpool
