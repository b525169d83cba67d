#!/usr/bin/python3
"""A gpool worker in Python, written only against proto/gpool.proto.

It serves the Worker service, registers with the coordinator, keeps its lease alive and
computes the chunks it is sent, beside the C++ workers of the same pool:

    $ /usr/bin/python3 worker.py --coordinator 127.0.0.1:50051 --slots 2
    ... I python-worker 4242: serving on 127.0.0.1:40117 with 2 slot(s), functions identity,square
    ... I python-worker 4242: registered as w3 (heartbeat every 0.5s, lease 3s)

Functions: square (exact: fails with OUT_OF_RANGE naming the value when |x| > 3037000499, as
the C++ worker does) and identity. SIGTERM or SIGINT stops it: running chunks get a few
seconds to finish (the coordinator re-dispatches any that do not), then it exits 0.

The worker itself is the gpool package's (python/gpool/worker.py, `python3 -m gpool.worker`,
which also serves the user's Python functions); this script runs it with the stubs generated
by generate_stubs.sh and the two built-in functions only.

Exit codes: 0 clean shutdown, 1 could not start (bad flag, cannot listen, missing stubs).
"""

import sys

import gpool_common  # Puts the source tree's python/ on sys.path.
from gpool import builtins, worker  # noqa: E402

PROGRAM = "worker.py"
FUNCTIONS = {"identity": builtins.identity, "square": builtins.square}


def main(argv):
    stubs = None
    rest = []
    for argument in argv:
        if argument.startswith("--stubs="):
            stubs = argument[len("--stubs="):]
        else:
            rest.append(argument)
    if "--stubs" in rest:
        position = rest.index("--stubs")
        stubs = rest[position + 1] if position + 1 < len(rest) else ""
        del rest[position:position + 2]
    worker.PROGRAM = PROGRAM
    args = worker.parse_args(rest)
    grpc, pb2, pb2_grpc = gpool_common.load_stubs(PROGRAM, stubs)
    worker.setup_logging(args.log_level)
    return worker.serve(args, grpc, pb2, pb2_grpc, FUNCTIONS)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
