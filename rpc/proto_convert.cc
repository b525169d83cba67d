#include "rpc/proto_convert.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

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
  SliceToProto(input.elements(), first, count, proto->mutable_list());
}

void SliceToProto(const Elements& elements, uint64_t first, uint64_t count,
                  v1::Elements* proto) {
  switch (elements.type()) {
    case ElementType::kInt64: {
      auto* values = proto->mutable_int64s()->mutable_values();
      const std::vector<int64_t>& from = elements.int64s();
      values->Add(from.begin() + first, from.begin() + first + count);
      return;
    }
    case ElementType::kDouble: {
      auto* values = proto->mutable_doubles()->mutable_values();
      const std::vector<double>& from = elements.doubles();
      values->Add(from.begin() + first, from.begin() + first + count);
      return;
    }
    case ElementType::kString:
    case ElementType::kBytes: {
      auto* values = elements.type() == ElementType::kString
                         ? proto->mutable_strings()->mutable_values()
                         : proto->mutable_blobs()->mutable_values();
      values->Reserve(static_cast<int>(count));
      for (uint64_t i = first; i < first + count; ++i) *values->Add() = elements.texts()[i];
      return;
    }
  }
}

void ToProto(const Elements& elements, v1::Elements* proto) {
  SliceToProto(elements, 0, elements.size(), proto);
}

Elements FromProto(const v1::Elements& proto) {
  switch (proto.kind_case()) {
    case v1::Elements::kInt64S:
      return Elements::Int64s(
          std::vector<int64_t>(proto.int64s().values().begin(), proto.int64s().values().end()));
    case v1::Elements::kDoubles:
      return Elements::Doubles(
          std::vector<double>(proto.doubles().values().begin(), proto.doubles().values().end()));
    case v1::Elements::kStrings:
      return Elements::Strings(std::vector<std::string>(proto.strings().values().begin(),
                                                        proto.strings().values().end()));
    case v1::Elements::kBlobs:
      return Elements::Blobs(
          std::vector<std::string>(proto.blobs().values().begin(), proto.blobs().values().end()));
    case v1::Elements::KIND_NOT_SET:
      break;
  }
  return Elements();
}

ElementType FromProto(v1::ElementType type) {
  switch (type) {
    case v1::ELEMENT_TYPE_DOUBLE:
      return ElementType::kDouble;
    case v1::ELEMENT_TYPE_STRING:
      return ElementType::kString;
    case v1::ELEMENT_TYPE_BYTES:
      return ElementType::kBytes;
    default:
      return ElementType::kInt64;
  }
}

v1::ElementType ToProto(ElementType type) {
  switch (type) {
    case ElementType::kInt64:
      return v1::ELEMENT_TYPE_INT64;
    case ElementType::kDouble:
      return v1::ELEMENT_TYPE_DOUBLE;
    case ElementType::kString:
      return v1::ELEMENT_TYPE_STRING;
    case ElementType::kBytes:
      return v1::ELEMENT_TYPE_BYTES;
  }
  return v1::ELEMENT_TYPE_UNSPECIFIED;
}

void ToProto(const FunctionSignature& signature, v1::FunctionSignature* proto) {
  proto->set_name(signature.name);
  proto->set_input_type(ToProto(signature.input_type));
  proto->set_output_type(ToProto(signature.output_type));
}

absl::StatusOr<FunctionSignature> FromProto(const v1::FunctionSignature& proto) {
  for (v1::ElementType type : {proto.input_type(), proto.output_type()}) {
    if (type != v1::ELEMENT_TYPE_INT64 && type != v1::ELEMENT_TYPE_DOUBLE &&
        type != v1::ELEMENT_TYPE_STRING && type != v1::ELEMENT_TYPE_BYTES) {
      return absl::InvalidArgumentError(absl::StrCat(
          "function '", proto.name(), "' declares element type ", static_cast<int>(type),
          "; each type must be ELEMENT_TYPE_INT64, _DOUBLE, _STRING or _BYTES"));
    }
  }
  return FunctionSignature{proto.name(), FromProto(proto.input_type()),
                           FromProto(proto.output_type())};
}

void ToProto(const DoubleStats& stats, v1::DoubleSummary* proto) {
  proto->set_exact_sum(stats.sum.ExactBytes());
  proto->set_nonfinite_sum(stats.sum.nonfinite_sum());
  proto->set_min(stats.min);
  proto->set_max(stats.max);
}

absl::StatusOr<DoubleStats> FromProto(const v1::DoubleSummary& proto, uint64_t count) {
  absl::StatusOr<ExactSum> sum = ExactSum::FromParts(proto.exact_sum(), proto.nonfinite_sum());
  if (!sum.ok()) return sum.status();
  DoubleStats stats;
  stats.count = count;
  stats.sum = *sum;
  stats.min = proto.min();
  stats.max = proto.max();
  return stats;
}

absl::StatusOr<Input> FromProto(const v1::Input& proto) {
  switch (proto.kind_case()) {
    case v1::Input::kRange:
      return Input::Range(proto.range().start(), proto.range().end());
    case v1::Input::kList:
      return Input::List(FromProto(proto.list()));
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
  proto->set_chunks_verified(stats.chunks_verified);
  proto->set_verification_mismatches(stats.verification_mismatches);
}

JobStats FromProto(const v1::JobStats& proto) {
  JobStats stats;
  stats.retries = proto.retries();
  stats.workers_lost = proto.workers_lost();
  stats.backups = proto.backups();
  stats.duplicates_dropped = proto.duplicates_dropped();
  stats.chunks_verified = proto.chunks_verified();
  stats.verification_mismatches = proto.verification_mismatches();
  return stats;
}

void ToProto(const WorkerIdentity& worker, v1::WorkerRef* proto) {
  proto->set_worker_id(worker.worker_id);
  proto->set_host(worker.host);
  proto->set_pid(worker.pid);
}

WorkerIdentity FromProto(const v1::WorkerRef& proto) {
  return WorkerIdentity{proto.worker_id(), proto.host(), proto.pid()};
}

void ToProto(const ClusterInfo& info, v1::ClusterInfo* proto) {
  proto->set_coordinator_incarnation(info.coordinator_incarnation);
  proto->set_total_slots(info.total_slots);
  proto->set_workers_omitted(info.workers_omitted);
  for (const WorkerInfo& worker : info.workers) {
    v1::WorkerStatus* status = proto->add_workers();
    ToProto(worker.ref, status->mutable_ref());
    status->set_address(worker.address);
    status->set_slots(worker.slots);
    for (const FunctionSignature& function : worker.functions) {
      ToProto(function, status->add_functions());
    }
    status->set_chunks_in_flight(worker.chunks_in_flight);
    status->set_chunks_done(worker.chunks_done);
    status->set_faults(worker.faults);
    status->set_quarantined(worker.quarantined);
    status->set_quarantine_reason(worker.quarantine_reason);
    status->set_last_heartbeat_age_ms(absl::ToInt64Milliseconds(worker.heartbeat_age));
    status->set_heartbeat_interval_ms(absl::ToInt64Milliseconds(worker.heartbeat_interval));
    status->set_lease_timeout_ms(absl::ToInt64Milliseconds(worker.lease_timeout));
  }
  for (const JobInfo& job : info.jobs) {
    v1::JobStatus* status = proto->add_jobs();
    status->set_job_id(job.job_id);
    status->set_function(job.function);
    status->set_total_elements(static_cast<int64_t>(job.total_elements));
    status->set_num_chunks(static_cast<int64_t>(job.num_chunks));
    status->set_chunks_done(static_cast<int64_t>(job.chunks_done));
    status->set_elapsed_ms(absl::ToInt64Milliseconds(job.elapsed));
    ToProto(job.stats, status->mutable_stats());
  }
}

ClusterInfo FromProto(const v1::ClusterInfo& proto) {
  ClusterInfo info;
  info.coordinator_incarnation = proto.coordinator_incarnation();
  info.total_slots = proto.total_slots();
  info.workers_omitted = proto.workers_omitted();
  for (const v1::WorkerStatus& status : proto.workers()) {
    WorkerInfo& worker = info.workers.emplace_back();
    worker.ref = FromProto(status.ref());
    worker.address = status.address();
    worker.slots = status.slots();
    for (const v1::FunctionSignature& function : status.functions()) {
      worker.functions.push_back(
          {function.name(), FromProto(function.input_type()), FromProto(function.output_type())});
    }
    worker.chunks_in_flight = status.chunks_in_flight();
    worker.chunks_done = status.chunks_done();
    worker.faults = status.faults();
    worker.quarantined = status.quarantined();
    worker.quarantine_reason = status.quarantine_reason();
    worker.heartbeat_age = absl::Milliseconds(status.last_heartbeat_age_ms());
    worker.heartbeat_interval = absl::Milliseconds(status.heartbeat_interval_ms());
    worker.lease_timeout = absl::Milliseconds(status.lease_timeout_ms());
  }
  for (const v1::JobStatus& status : proto.jobs()) {
    JobInfo& job = info.jobs.emplace_back();
    job.job_id = status.job_id();
    job.function = status.function();
    job.total_elements = static_cast<uint64_t>(status.total_elements());
    job.num_chunks = static_cast<uint64_t>(status.num_chunks());
    job.chunks_done = static_cast<uint64_t>(status.chunks_done());
    job.elapsed = absl::Milliseconds(status.elapsed_ms());
    job.stats = FromProto(status.stats());
  }
  return info;
}

}  // namespace gpool
