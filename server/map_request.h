// A Map request as the job the scheduler runs: the checks that make a request a job, apart
// from the transport (the generated message is plain data here).
#ifndef GPOOL_SERVER_MAP_REQUEST_H_
#define GPOOL_SERVER_MAP_REQUEST_H_

#include "absl/status/statusor.h"
#include "gpool.pb.h"
#include "server/job.h"

namespace gpool {

// The job `request` asks for; INVALID_ARGUMENT for a request that cannot become a job (no
// input, an input that is not one, a result mode this build does not name, a negative
// completed chunk index). The scheduler checks the rest (SubmitJob).
absl::StatusOr<JobSpec> ToJobSpec(const v1::MapRequest& request);

}  // namespace gpool

#endif  // GPOOL_SERVER_MAP_REQUEST_H_
