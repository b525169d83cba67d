#!/usr/bin/python3
"""W5's Python peer: multiprocessing.Pool(2).map(str.upper, strings), warm.

The pool is created and the strings are in memory before any timing; one untimed map (whose
result is checked) warms the workers up. Prints one JSON line like bench/compare.sh's.

  pool_upper.py FILE [--processes 2] [--reps 5] [--warmup 1]
"""
import argparse
import json
import multiprocessing
import statistics
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    with open(args.input, encoding="ascii") as f:
        strings = f.read().splitlines()
    expected = [s.upper() for s in strings]
    times = []
    with multiprocessing.Pool(args.processes) as pool:
        for rep in range(args.warmup + args.reps):
            started = time.perf_counter()
            result = pool.map(str.upper, strings)
            elapsed = time.perf_counter() - started
            if result != expected:
                raise SystemExit("pool_upper: Pool.map(str.upper) returned something else")
            if rep >= args.warmup:
                times.append(elapsed)
    median = statistics.median(times)
    print(json.dumps({"system": "pool", "workload": "w5_upper", "elements": len(strings),
                      "reps": len(times), "median_s": median, "min_s": min(times),
                      "max_s": max(times), "rate_per_s": len(strings) / median}))


if __name__ == "__main__":
    main()
