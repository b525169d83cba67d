// gpool-worker-liar: a worker for tests only (never installed) that lies consistently, as a
// compromised worker would: its "square" is x*x + 1. Its answers agree with themselves (the
// registry computes count, sum, min and max from the lying values), so only --verify, which
// compares them with another worker's, can catch it. It takes gpool-worker's flags.
#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"
#include "common/functions.h"
#include "worker/worker_main.h"

int main(int argc, char** argv) {
  gpool::FunctionRegistry registry;
  // A fresh registry: the name is free. Inputs stay small in tests, so x*x + 1 cannot wrap.
  (void)registry.Register("square", [](int64_t x) -> absl::StatusOr<int64_t> {
    return x * x + 1;
  });
  return gpool::RunWorkerMain(argc, argv, std::move(registry));
}
