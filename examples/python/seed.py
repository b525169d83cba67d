#!/usr/bin/python3
"""The seed program: the multiprocessing tutorial's sum of squares, on gpool.

The only line that differs from the tutorial is the import: `from gpool import Pool` in place
of `from multiprocessing import Pool`. It prints the pool's cores and the exact sum:

    $ GPOOL_BIN_DIR=build/bin PYTHONPATH=python examples/python/seed.py --processes 4
    Number of cores available equals 4
    The sum of the square of the first 5000 integers is 41679167500

Without $GPOOL_COORDINATOR the pool is a private local cluster of --processes Python workers
(default: this machine's cores); with it, the cluster there (its slots are the cores).
--trace makes each worker print which process computed each element, as the tutorial's
workers do: "Worker <pid> calculating square of <x>" (a private cluster's workers write to
this program's stdout; a remote cluster's to their own).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "python"))  # The source tree's gpool, when not installed.
from gpool import Pool  # noqa: E402  (the tutorial: from multiprocessing import Pool)

TRACE = "--trace" in sys.argv[1:]


def f(x):
    if TRACE:
        # One write per line, so lines of workers sharing this stdout never interleave.
        os.write(sys.stdout.fileno(), f"Worker {os.getpid()} calculating square of {x}\n".encode())
    return x * x


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=None,
                        help="workers of the pool (default: this machine's cores)")
    parser.add_argument("--trace", action="store_true",
                        help="print which worker process computed each element")
    args = parser.parse_args()
    with Pool(args.processes) as p:
        # _processes: the pool's worker processes under multiprocessing, its slots under gpool.
        print(f"Number of cores available equals {p._processes}", flush=True)
        total = sum(p.map(f, range(1, 5001)))
        print(f"The sum of the square of the first 5000 integers is {total}", flush=True)
