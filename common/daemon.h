// Start-up and shutdown plumbing shared by the daemons.
#ifndef GPOOL_COMMON_DAEMON_H_
#define GPOOL_COMMON_DAEMON_H_

namespace gpool {

// Blocks SIGTERM and SIGINT in the calling thread and every thread it creates afterwards.
// Call first thing in main, before any thread starts.
void BlockTerminationSignals();

// Waits until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForTerminationSignal();

}  // namespace gpool

#endif  // GPOOL_COMMON_DAEMON_H_
