// gpool-worker: registers with a coordinator and computes the chunks it is sent, with the
// builtin functions (square, cube, identity). Flags and exit codes: worker/worker_main.h.
#include <utility>

#include "common/functions.h"
#include "worker/worker_main.h"

int main(int argc, char** argv) {
  return gpool::RunWorkerMain(argc, argv, gpool::FunctionRegistry::WithBuiltins());
}
