// Client's connection to its coordinator: private to the client library (client.cc,
// map_stream.cc).
#ifndef GPOOL_CLIENT_CLIENT_STUB_H_
#define GPOOL_CLIENT_CLIENT_STUB_H_

#include <memory>

#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "client/client.h"
#include "common/shared_values.h"
#include "gpool.grpc.pb.h"
#include "rpc/raw_messages.h"

namespace gpool {

// Calls Coordinator.Map, read as bytes. The generic stub only makes bidirectional streams;
// on the wire one request and its half-close are what a server-streaming call sends.
using MapStub = grpc::TemplatedGenericStub<v1::MapRequest, RawMessage>;
// Calls Coordinator.MapStream, its responses read as bytes like Map's.
using MapStreamStub = grpc::TemplatedGenericStub<v1::MapStreamRequest, RawMessage>;

struct Client::Stub {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Coordinator::Stub> coordinator;
  // Coordinator.Map with RawMessage responses, which the generated stub cannot do.
  std::unique_ptr<MapStub> map;
  std::unique_ptr<MapStreamStub> map_stream;
  absl::Mutex mu;
  // The last job's shared-values buffer, kept for the next job (ClientOptions).
  std::unique_ptr<SharedValuesBuffer> idle_shared_values ABSL_GUARDED_BY(mu);
};

}  // namespace gpool

#endif  // GPOOL_CLIENT_CLIENT_STUB_H_
