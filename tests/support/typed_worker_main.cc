// gpool-worker-typed: a worker for tests only (never installed) with the built-ins plus
// `same` (double -> double, x itself). The built-in double function, sqrt, takes no negative
// numbers to anything summable, so the exact-sum tests need one that keeps every value, sign
// and magnitude included. It takes gpool-worker's flags.
#include <utility>

#include "common/functions.h"
#include "worker/worker_main.h"

int main(int argc, char** argv) {
  gpool::FunctionRegistry registry = gpool::FunctionRegistry::WithBuiltins();
  // The name is new, so registering cannot fail.
  (void)registry.Register("same", [](double x) { return x; });
  return gpool::RunWorkerMain(argc, argv, std::move(registry));
}
