#include "common/cluster_info.h"

#include <string>

namespace gpool {
namespace {

// The widest a field's tag (field numbers below 16: 1 byte) plus a varint can be: a negative
// int32 or any int64 takes 10 bytes. A length-delimited field's length is a varint too.
constexpr size_t kWidestTaggedVarint = 1 + 10;

size_t StringFieldBound(const std::string& value) { return kWidestTaggedVarint + value.size(); }

}  // namespace

size_t EncodedSizeBound(const WorkerInfo& worker) {
  const size_t ref = StringFieldBound(worker.ref.worker_id) + StringFieldBound(worker.ref.host) +
                     kWidestTaggedVarint;  // pid
  size_t status = kWidestTaggedVarint + ref;  // ref, tag and length
  status += StringFieldBound(worker.address);
  // Each FunctionSignature: its tag and length, the name, two enum fields.
  for (const FunctionSignature& function : worker.functions) {
    status += kWidestTaggedVarint + StringFieldBound(function.name) + 2 * kWidestTaggedVarint;
  }
  status += StringFieldBound(worker.quarantine_reason);
  // slots, chunks_in_flight, chunks_done, last_heartbeat_age_ms, heartbeat_interval_ms,
  // lease_timeout_ms, faults, quarantined.
  status += 8 * kWidestTaggedVarint;
  return kWidestTaggedVarint + status;  // the element's tag and length
}

}  // namespace gpool
