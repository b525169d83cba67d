#include "rpc/proto_convert.h"

#include <vector>

#include "absl/status/status.h"

namespace gpool {

void ToProto(absl::int128 value, v1::Int128* proto) {
  proto->set_high(static_cast<uint64_t>(absl::Int128High64(value)));
  proto->set_low(absl::Int128Low64(value));
}

absl::int128 FromProto(const v1::Int128& proto) {
  return absl::MakeInt128(static_cast<int64_t>(proto.high()), proto.low());
}

void ToProto(const Input& input, v1::Input* proto) {
  SliceToProto(input, 0, input.size(), proto);
}

void SliceToProto(const Input& input, uint64_t first, uint64_t count, v1::Input* proto) {
  if (input.is_range()) {
    v1::Range* range = proto->mutable_range();
    range->set_start(input.At(first));
    range->set_end(input.At(first + count - 1));
    return;
  }
  auto* values = proto->mutable_list()->mutable_values();
  values->Reserve(static_cast<int>(count));
  for (uint64_t i = first; i < first + count; ++i) values->AddAlreadyReserved(input.At(i));
}

absl::StatusOr<Input> FromProto(const v1::Input& proto) {
  switch (proto.kind_case()) {
    case v1::Input::kRange:
      return Input::Range(proto.range().start(), proto.range().end());
    case v1::Input::kList:
      return Input::List(
          std::vector<int64_t>(proto.list().values().begin(), proto.list().values().end()));
    case v1::Input::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("the request has no input: set a range or a list of values");
}

ResultMode FromProto(v1::ResultMode mode) {
  return mode == v1::RESULT_MODE_SUM ? ResultMode::kSum : ResultMode::kValues;
}

v1::ResultMode ToProto(ResultMode mode) {
  return mode == ResultMode::kSum ? v1::RESULT_MODE_SUM : v1::RESULT_MODE_VALUES;
}

void ToProto(const SharedValuesRef& ref, v1::SharedValues* proto) {
  proto->set_pid(ref.pid);
  proto->set_fd(ref.fd);
  proto->set_token_high(ref.token_high);
  proto->set_token_low(ref.token_low);
}

SharedValuesRef FromProto(const v1::SharedValues& proto) {
  SharedValuesRef ref;
  ref.pid = proto.pid();
  ref.fd = proto.fd();
  ref.token_high = proto.token_high();
  ref.token_low = proto.token_low();
  return ref;
}

void ToProto(const JobStats& stats, v1::JobStats* proto) {
  proto->set_retries(stats.retries);
  proto->set_workers_lost(stats.workers_lost);
  proto->set_backups(stats.backups);
  proto->set_duplicates_dropped(stats.duplicates_dropped);
}

JobStats FromProto(const v1::JobStats& proto) {
  JobStats stats;
  stats.retries = proto.retries();
  stats.workers_lost = proto.workers_lost();
  stats.backups = proto.backups();
  stats.duplicates_dropped = proto.duplicates_dropped();
  return stats;
}

}  // namespace gpool
