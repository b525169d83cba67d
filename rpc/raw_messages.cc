#include "rpc/raw_messages.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/support/slice.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace gpool {
namespace {

// Protobuf wire format (https://protobuf.dev/programming-guides/encoding/).
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };
// Field numbers of the messages handled here, as in gpool.proto.
constexpr uint32_t kRunChunksResponseResults = v1::RunChunksResponse::kResultsFieldNumber;
constexpr uint32_t kChunkOutcomeValues = v1::ChunkOutcome::kValuesFieldNumber;
constexpr uint32_t kChunkResultValues = 4;
constexpr uint32_t kMapResponseResults = 2;

void AppendVarint(uint64_t value, std::string& out) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

size_t VarintSize(uint64_t value) {
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

void AppendTag(uint32_t field, WireType type, std::string& out) {
  AppendVarint((uint64_t{field} << 3) | type, out);
}

// Reads a message spread over a buffer's slices, which need not break at field boundaries.
class SliceReader {
 public:
  explicit SliceReader(std::shared_ptr<const std::vector<grpc::Slice>> slices)
      : slices_(std::move(slices)) {
    for (const grpc::Slice& slice : *slices_) size_ += slice.size();
  }

  size_t position() const { return position_; }
  size_t size() const { return size_; }

  bool ReadByte(uint8_t& byte) {
    if (!SkipEmptySlices()) return false;
    byte = (*slices_)[slice_].begin()[offset_];
    Advance(1);
    return true;
  }

  bool ReadVarint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t byte = 0;
      if (!ReadByte(byte)) return false;
      value |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  // Hands the next `size` bytes, as pieces of the slices, to `piece(data, size)`.
  template <typename PieceFn>
  bool Take(size_t size, PieceFn piece) {
    if (size > size_ - position_) return false;
    while (size > 0) {
      SkipEmptySlices();
      const grpc::Slice& slice = (*slices_)[slice_];
      const size_t n = std::min(size, slice.size() - offset_);
      piece(reinterpret_cast<const char*>(slice.begin()) + offset_, n);
      Advance(n);
      size -= n;
    }
    return true;
  }

  bool CopyTo(size_t size, std::string& out) {
    return Take(size, [&out](const char* data, size_t n) { out.append(data, n); });
  }

 private:
  bool SkipEmptySlices() {
    while (slice_ < slices_->size() && offset_ == (*slices_)[slice_].size()) {
      ++slice_;
      offset_ = 0;
    }
    return slice_ < slices_->size();
  }
  void Advance(size_t n) {
    offset_ += n;
    position_ += n;
  }

  const std::shared_ptr<const std::vector<grpc::Slice>> slices_;
  size_t size_ = 0;
  size_t slice_ = 0;
  size_t offset_ = 0;
  size_t position_ = 0;
};

absl::Status Malformed(absl::string_view what) {
  return absl::InternalError(absl::StrCat("malformed message: ", what));
}

// Copies one field whose tag was just read, re-encoding the tag, into `out`.
absl::Status CopyField(SliceReader& reader, uint32_t field, uint32_t type, std::string& out) {
  AppendTag(field, static_cast<WireType>(type), out);
  switch (type) {
    case kVarint: {
      uint64_t value = 0;
      if (!reader.ReadVarint(value)) return Malformed("truncated varint");
      AppendVarint(value, out);
      return absl::OkStatus();
    }
    case kFixed64:
      return reader.CopyTo(8, out) ? absl::OkStatus() : Malformed("truncated fixed64");
    case kFixed32:
      return reader.CopyTo(4, out) ? absl::OkStatus() : Malformed("truncated fixed32");
    case kLengthDelimited: {
      uint64_t length = 0;
      if (!reader.ReadVarint(length)) return Malformed("truncated length");
      AppendVarint(length, out);
      return reader.CopyTo(length, out) ? absl::OkStatus() : Malformed("truncated field");
    }
    default:
      return Malformed(absl::StrCat("unsupported wire type ", type));
  }
}

// Skips one field whose tag was just read (a field this version does not know).
absl::Status SkipField(SliceReader& reader, uint32_t field, uint32_t type) {
  std::string ignored;
  return CopyField(reader, field, type, ignored);
}

// Reads a length-delimited field's length and checks it fits; returns where it ends.
absl::StatusOr<size_t> ReadLength(SliceReader& reader);

// Reads the fields from the reader's position up to `end`, handing each tag to
// `on_field(field, type)`, which must consume the field's value.
template <typename OnField>
absl::Status ForEachField(SliceReader& reader, size_t end, OnField on_field) {
  while (reader.position() < end) {
    uint64_t tag = 0;
    if (!reader.ReadVarint(tag)) return Malformed("truncated tag");
    if (absl::Status status =
            on_field(static_cast<uint32_t>(tag >> 3), static_cast<uint32_t>(tag & 7));
        !status.ok()) {
      return status;
    }
  }
  return reader.position() == end ? absl::OkStatus() : Malformed("a message overruns its length");
}

// The member of gpool.v1.Elements that holds a column of `type`, and back.
uint32_t ColumnField(ElementType type) {
  switch (type) {
    case ElementType::kInt64:
      return v1::Elements::kInt64SFieldNumber;
    case ElementType::kDouble:
      return v1::Elements::kDoublesFieldNumber;
    case ElementType::kString:
      return v1::Elements::kStringsFieldNumber;
    case ElementType::kBytes:
      return v1::Elements::kBlobsFieldNumber;
  }
  return 0;
}

std::optional<ElementType> ColumnType(uint32_t field) {
  for (ElementType type : {ElementType::kInt64, ElementType::kDouble, ElementType::kString,
                           ElementType::kBytes}) {
    if (ColumnField(type) == field) return type;
  }
  return std::nullopt;
}

// The field of every column message (Int64s, Doubles, Strings, Blobs) that holds its values.
constexpr uint32_t kColumnValues = 1;

// Reads the gpool.v1.Elements that ends at `end` into `values`: a numeric column's packed
// values, or a string or bytes column's encoded elements, as pieces of the buffer.
absl::Status DecodeElements(SliceReader& reader, size_t end,
                            const std::shared_ptr<const void>& owner, EncodedValues& values) {
  auto append_values = [&](const char* data, size_t size) { values.Append(data, size, owner); };
  bool have_column = false;
  absl::Status status = ForEachField(reader, end, [&](uint32_t field, uint32_t type) {
    const std::optional<ElementType> column = ColumnType(field);
    if (!column.has_value() || type != kLengthDelimited) return SkipField(reader, field, type);
    if (have_column) return Malformed("values in two columns");
    have_column = true;
    values.set_type(*column);
    absl::StatusOr<size_t> column_end = ReadLength(reader);
    if (!column_end.ok() || *column_end > end) return Malformed("bad value column");
    if (!IsNumeric(*column)) {
      // Kept encoded, as the elements travel on; CountTexts checks them.
      return reader.Take(*column_end - reader.position(), append_values)
                 ? absl::OkStatus()
                 : Malformed("truncated value column");
    }
    return ForEachField(reader, *column_end, [&](uint32_t value_field, uint32_t value_type) {
      if (value_field == kColumnValues && value_type == kLengthDelimited) {  // packed
        uint64_t length = 0;
        if (!reader.ReadVarint(length) || length % sizeof(int64_t) != 0 ||
            reader.position() + length > *column_end || !reader.Take(length, append_values)) {
          return Malformed("bad packed values");
        }
        return absl::OkStatus();
      }
      if (value_field == kColumnValues && value_type == kFixed64) {  // one value, unpacked
        return reader.Take(sizeof(int64_t), append_values) ? absl::OkStatus()
                                                           : Malformed("truncated value");
      }
      return SkipField(reader, value_field, value_type);
    });
  });
  if (!status.ok()) return status;
  if (!IsNumeric(values.type())) {
    if (absl::Status counted = values.CountTexts(); !counted.ok()) {
      return Malformed(counted.message());
    }
  }
  return absl::OkStatus();
}

// Reads one message of type Fields that ends at `end`, handing the values of its Elements
// field `values_field` to `values` and parsing the other fields into `fields`.
template <typename Fields>
absl::Status DecodeWithValues(SliceReader& reader, size_t end, uint32_t values_field,
                              const std::shared_ptr<const void>& owner, Fields& fields,
                              EncodedValues& values) {
  std::string other_fields;  // re-encoded for protobuf to parse
  bool have_values = false;
  absl::Status status = ForEachField(reader, end, [&](uint32_t field, uint32_t type) {
    if (field == values_field && type == kLengthDelimited) {
      // Protobuf would merge a second one into the first; no gpool peer sends two, and
      // values merged across columns would be read from the wrong place.
      if (have_values) return Malformed("values given twice");
      have_values = true;
      absl::StatusOr<size_t> elements_end = ReadLength(reader);
      if (!elements_end.ok() || *elements_end > end) return Malformed("bad values");
      return DecodeElements(reader, *elements_end, owner, values);
    }
    return CopyField(reader, field, type, other_fields);
  });
  if (!status.ok()) return status;
  if (!fields.ParseFromString(other_fields)) return Malformed("unparsable fields");
  return absl::OkStatus();
}

// The sizes of the values field of a message holding `values` (none when empty): the
// Elements message, and the column message within it.
struct ValuesFieldSizes {
  size_t column = 0;    // the column message (Int64s, Doubles, Strings, Blobs)
  size_t elements = 0;  // the Elements message
  size_t field = 0;     // the values field with its tag and length
};

ValuesFieldSizes SizesOf(const EncodedValues& values) {
  ValuesFieldSizes sizes;
  if (values.empty()) return sizes;
  sizes.column = IsNumeric(values.type())
                     ? 1 + VarintSize(values.bytes()) + values.bytes()  // packed field
                     : values.bytes();                                  // encoded already
  sizes.elements = 1 + VarintSize(sizes.column) + sizes.column;
  sizes.field = 1 + VarintSize(sizes.elements) + sizes.elements;
  return sizes;
}

// Reads a length-delimited field's length and checks it fits; returns where it ends.
absl::StatusOr<size_t> ReadLength(SliceReader& reader) {
  uint64_t length = 0;
  if (!reader.ReadVarint(length) || length > reader.size() - reader.position()) {
    return Malformed("bad length");
  }
  return reader.position() + length;
}

absl::StatusOr<std::shared_ptr<std::vector<grpc::Slice>>> SlicesOf(const grpc::ByteBuffer& bytes) {
  auto slices = std::make_shared<std::vector<grpc::Slice>>();
  if (!bytes.Dump(slices.get()).ok()) return Malformed("unreadable buffer");
  return slices;
}

// Builds a message out of byte strings (copied into slices) and value pieces (referenced).
class SliceWriter {
 public:
  std::string& text() { return pending_; }

  void AppendValues(const EncodedValues& values) {
    if (values.empty()) return;
    Flush();
    auto* keep_alive = new std::shared_ptr<const void>(values.KeepAlive());
    for (size_t i = 0; i < values.pieces().size(); ++i) {
      const EncodedValues::Piece& piece = values.pieces()[i];
      // Each slice holds its own reference; the last one released frees the buffers.
      auto* reference = i == 0 ? keep_alive : new std::shared_ptr<const void>(*keep_alive);
      slices_.emplace_back(const_cast<char*>(piece.data), piece.size, &Release, reference);
    }
  }

  RawMessage Finish() {
    Flush();
    RawMessage message;
    message.bytes = grpc::ByteBuffer(slices_.data(), slices_.size());
    return message;
  }

 private:
  static void Release(void* reference) {
    delete static_cast<std::shared_ptr<const void>*>(reference);
  }
  void Flush() {
    if (pending_.empty()) return;
    slices_.emplace_back(pending_);
    pending_.clear();
  }

  std::string pending_;
  std::vector<grpc::Slice> slices_;
};

// Writes a top-level message whose repeated field `message_field` holds messages each made of
// `fields` (serialised by protobuf) and a packed values field (referenced). `before` and
// `after` are its other fields, already serialised, written before and after those messages.
template <typename Fields>
RawMessage EncodeWithValues(
    const std::vector<std::pair<const Fields*, const EncodedValues*>>& messages,
    uint32_t values_field, uint32_t message_field, const std::string& before = "",
    const std::string& after = "") {
  std::vector<std::string> fields;
  std::vector<size_t> message_sizes;
  fields.reserve(messages.size());
  for (const auto& [message_fields, values] : messages) {
    fields.push_back(message_fields->SerializeAsString());
    message_sizes.push_back(fields.back().size() + SizesOf(*values).field);
  }
  SliceWriter writer;
  writer.text() += before;
  for (size_t i = 0; i < messages.size(); ++i) {
    AppendTag(message_field, kLengthDelimited, writer.text());
    AppendVarint(message_sizes[i], writer.text());
    // A parser accepts fields in any order: the values go last.
    writer.text() += fields[i];
    const EncodedValues& values = *messages[i].second;
    if (!values.empty()) {
      const ValuesFieldSizes sizes = SizesOf(values);
      AppendTag(values_field, kLengthDelimited, writer.text());
      AppendVarint(sizes.elements, writer.text());
      AppendTag(ColumnField(values.type()), kLengthDelimited, writer.text());
      AppendVarint(sizes.column, writer.text());
      if (IsNumeric(values.type())) {
        AppendTag(kColumnValues, kLengthDelimited, writer.text());
        AppendVarint(values.bytes(), writer.text());
      }
      writer.AppendValues(values);
    }
  }
  writer.text() += after;
  return writer.Finish();
}

}  // namespace

absl::StatusOr<std::vector<RawChunkOutcome>> DecodeRunChunksResponse(
    const grpc::ByteBuffer& bytes) {
  absl::StatusOr<std::shared_ptr<std::vector<grpc::Slice>>> slices = SlicesOf(bytes);
  if (!slices.ok()) return slices.status();
  SliceReader reader(*slices);
  std::vector<RawChunkOutcome> outcomes;
  absl::Status status = ForEachField(reader, reader.size(), [&](uint32_t field, uint32_t type) {
    if (field != kRunChunksResponseResults || type != kLengthDelimited) {
      return SkipField(reader, field, type);
    }
    absl::StatusOr<size_t> end = ReadLength(reader);
    if (!end.ok()) return end.status();
    RawChunkOutcome& outcome = outcomes.emplace_back();
    return DecodeWithValues(reader, *end, kChunkOutcomeValues, *slices, outcome.fields,
                            outcome.values);
  });
  if (!status.ok()) return status;
  return outcomes;
}

absl::StatusOr<RawMapResponse> DecodeMapResponse(const grpc::ByteBuffer& bytes) {
  absl::StatusOr<std::shared_ptr<std::vector<grpc::Slice>>> slices = SlicesOf(bytes);
  if (!slices.ok()) return slices.status();
  SliceReader reader(*slices);
  RawMapResponse response;
  std::string events;  // started and finished (and unknown fields), parsed by protobuf
  absl::Status status = ForEachField(reader, reader.size(), [&](uint32_t field, uint32_t type) {
    if (field != kMapResponseResults || type != kLengthDelimited) {
      return CopyField(reader, field, type, events);
    }
    absl::StatusOr<size_t> end = ReadLength(reader);
    if (!end.ok()) return end.status();
    RawChunkResult& chunk = response.results.emplace_back();
    return DecodeWithValues(reader, *end, kChunkResultValues, *slices, chunk.fields, chunk.values);
  });
  if (!status.ok()) return status;
  v1::MapResponse parsed;
  if (!parsed.ParseFromString(events)) return Malformed("unparsable JobStarted or JobFinished");
  if (parsed.has_started()) response.started = std::move(*parsed.mutable_started());
  if (parsed.has_finished()) response.finished = std::move(*parsed.mutable_finished());
  return response;
}

RawMessage EncodeMapResponse(const v1::JobStarted* started,
                             const std::vector<RawChunkResult>& results,
                             const v1::JobFinished* finished) {
  // The start before the results and the end after them, in field order, as protobuf
  // would write them.
  v1::MapResponse events;
  std::string before;
  std::string after;
  if (started != nullptr) {
    *events.mutable_started() = *started;
    before = events.SerializeAsString();
    events.clear_started();
  }
  if (finished != nullptr) {
    *events.mutable_finished() = *finished;
    after = events.SerializeAsString();
  }
  std::vector<std::pair<const v1::ChunkResult*, const EncodedValues*>> messages;
  messages.reserve(results.size());
  for (const RawChunkResult& chunk : results) messages.emplace_back(&chunk.fields, &chunk.values);
  return EncodeWithValues(messages, kChunkResultValues, kMapResponseResults, before, after);
}

RawMessage EncodeRunChunksResponse(const std::vector<RawChunkOutcome>& outcomes) {
  std::vector<std::pair<const v1::ChunkOutcome*, const EncodedValues*>> messages;
  for (const RawChunkOutcome& outcome : outcomes) {
    messages.emplace_back(&outcome.fields, &outcome.values);
  }
  return EncodeWithValues(messages, kChunkOutcomeValues, kRunChunksResponseResults);
}

}  // namespace gpool
