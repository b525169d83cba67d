// Conversions between gpool's plain types and the generated protocol messages.
#ifndef GPOOL_RPC_PROTO_CONVERT_H_
#define GPOOL_RPC_PROTO_CONVERT_H_

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "common/cluster_info.h"
#include "common/functions.h"
#include "common/input.h"
#include "common/job_stats.h"
#include "common/shared_values.h"
#include "gpool.pb.h"

namespace gpool {

void ToProto(absl::int128 value, v1::Int128* proto);
absl::int128 FromProto(const v1::Int128& proto);

void ToProto(const Input& input, v1::Input* proto);
// Writes elements [first, first + count) of `input` without building the slice first.
void SliceToProto(const Input& input, uint64_t first, uint64_t count, v1::Input* proto);
// INVALID_ARGUMENT when no input is set; the result is not validated further.
absl::StatusOr<Input> FromProto(const v1::Input& proto);

void ToProto(const Elements& elements, v1::Elements* proto);
void SliceToProto(const Elements& elements, uint64_t first, uint64_t count, v1::Elements* proto);
// An Elements with no member set is an empty int64 column.
Elements FromProto(const v1::Elements& proto);

// ELEMENT_TYPE_UNSPECIFIED (or an unknown value) reads as int64; FunctionSignature's reader
// refuses it.
ElementType FromProto(v1::ElementType type);
v1::ElementType ToProto(ElementType type);

void ToProto(const FunctionSignature& signature, v1::FunctionSignature* proto);
// INVALID_ARGUMENT for a type that is unset or unknown (naming the function).
absl::StatusOr<FunctionSignature> FromProto(const v1::FunctionSignature& proto);

void ToProto(const DoubleStats& stats, v1::DoubleSummary* proto);
// INVALID_ARGUMENT for an exact_sum over 280 bytes.
absl::StatusOr<DoubleStats> FromProto(const v1::DoubleSummary& proto, uint64_t count);

ResultMode FromProto(v1::ResultMode mode);
v1::ResultMode ToProto(ResultMode mode);

void ToProto(const SharedValuesRef& ref, v1::SharedValues* proto);
SharedValuesRef FromProto(const v1::SharedValues& proto);

void ToProto(const JobStats& stats, v1::JobStats* proto);
JobStats FromProto(const v1::JobStats& proto);

void ToProto(const WorkerIdentity& worker, v1::WorkerRef* proto);
WorkerIdentity FromProto(const v1::WorkerRef& proto);

// Durations travel in whole milliseconds.
void ToProto(const ClusterInfo& info, v1::ClusterInfo* proto);
ClusterInfo FromProto(const v1::ClusterInfo& proto);

}  // namespace gpool

#endif  // GPOOL_RPC_PROTO_CONVERT_H_
