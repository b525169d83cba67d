// A coordinator's MapStream call, from any bytes (as any client can send): a sequence of
// MapStreamRequest messages (each framed here by a 2-byte length) taken by InputStream as the
// adapter takes them, reading only while it wants input. Nothing crashes, every refusal says
// why, and the segments it hands out tile the input: whole chunks, in order, within the
// elements received, never more in flight than its bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "gpool.pb.h"
#include "server/input_stream.h"

namespace {

void CheckRefusal(const absl::Status& status) {
  if (!status.ok() && status.message().empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gpool::InputStream stream("fuzz");
  uint64_t next_first_element = 0;
  bool any_segment = false;
  // Hands out the ready segments and finishes them, checking how they tile the input.
  auto drain = [&] {
    for (const gpool::StreamSegment& segment : stream.TakeSegments()) {
      const uint64_t chunk_size = stream.chunk_size();
      const uint64_t elements = segment.spec.input->size();
      if (chunk_size == 0 || elements == 0) std::abort();
      if (any_segment && segment.first_element < next_first_element) std::abort();
      if (segment.first_element % chunk_size != 0) std::abort();
      if (segment.first_chunk * chunk_size != segment.first_element) std::abort();
      if (segment.first_element + elements > stream.total_elements()) std::abort();
      if (stream.segments_in_flight() > stream.max_segments_in_flight()) std::abort();
      next_first_element = segment.first_element + elements;
      any_segment = true;
      stream.SegmentFinished(segment.index, gpool::JobStats{});
    }
  };
  size_t pos = 0;
  while (pos + 2 <= size) {
    if (!stream.WantsInput()) drain();
    if (!stream.WantsInput()) std::abort();  // nothing in flight, input not ended
    const size_t length = std::min<size_t>(size - pos - 2, data[pos] | (data[pos + 1] << 8));
    pos += 2;
    gpool::v1::MapStreamRequest message;
    const bool parsed = message.ParseFromArray(data + pos, static_cast<int>(length));
    pos += length;
    if (!parsed) continue;
    absl::Status taken = stream.Take(message);
    CheckRefusal(taken);
    if (!taken.ok()) return 0;  // the call ends
  }
  absl::Status ended = stream.EndOfInput();
  CheckRefusal(ended);
  if (!ended.ok()) return 0;
  drain();
  if (!stream.Done()) std::abort();
  return 0;
}
