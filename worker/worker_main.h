// The gpool worker daemon as a library function: flags, serving, registration with the
// coordinator, heartbeats and the SIGTERM drain. gpool-worker is a main() around it with the
// builtin functions; a custom worker passes its own registry:
//
//   int main(int argc, char** argv) {
//     gpool::FunctionRegistry registry = gpool::FunctionRegistry::WithBuiltins();
//     (void)registry.Register("triple", Triple);
//     return gpool::RunWorkerMain(argc, argv, std::move(registry));
//   }
//
// The worker advertises registry.Names() when it registers, and the coordinator sends it
// only chunks of those functions.
#ifndef GPOOL_WORKER_WORKER_MAIN_H_
#define GPOOL_WORKER_WORKER_MAIN_H_

#include "common/functions.h"

namespace gpool {

// Parses the worker flags (--coordinator, --listen, --slots, ...; --help lists them all with
// their defaults and meanings), serves `registry` until SIGTERM or SIGINT, then drains and
// returns the process exit code: 0 after a clean shutdown or --help, 1 when the worker could
// not start (cannot listen, cannot write --port_file), 2 after a usage error (unknown flag,
// bad flag value, no coordinator; one line on stderr). Call it once, from main, before
// starting any thread: it blocks the termination signals so that only it receives them.
int RunWorkerMain(int argc, char** argv, FunctionRegistry registry);

}  // namespace gpool

#endif  // GPOOL_WORKER_WORKER_MAIN_H_
