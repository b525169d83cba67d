#!/usr/bin/python3
"""Warm map of a Python function over 10^5 small elements: gpool.Pool's private cluster
against multiprocessing.Pool, the same number of processes, side by side in one run.

Prints elements per second of each and the ratio (gpool / multiprocessing).
"""

import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "python"))
import gpool  # noqa: E402

ELEMENTS = 10 ** 5
REPETITIONS = 10


def f(x):
    return x * x


def rate(pool):
    expected = [f(x) for x in range(ELEMENTS)]
    assert pool.map(f, range(ELEMENTS)) == expected  # Warm-up, and the result is exact.
    started = time.perf_counter()
    for _ in range(REPETITIONS):
        pool.map(f, range(ELEMENTS))
    return ELEMENTS * REPETITIONS / (time.perf_counter() - started)


if __name__ == "__main__":
    processes = os.cpu_count() or 1
    with multiprocessing.Pool(processes) as pool:
        pool_rate = rate(pool)
    with gpool.Pool(processes) as pool:
        gpool_rate = rate(pool)
    print(f"warm map of {ELEMENTS} elements, {processes} processes: "
          f"multiprocessing.Pool {pool_rate:,.0f}/s, gpool.Pool {gpool_rate:,.0f}/s, "
          f"gpool/Pool {gpool_rate / pool_rate:.2f} (goal: >= 1)")
