#!/usr/bin/python3
"""Times one gpool CLI command against a running cluster (warm: the cluster is up), checks
its output each time, and prints one JSON line like bench/compare.sh's. On a failure it
says "gpool side failed: ..." on stderr and exits 1.

  time_cli.py --workload w5_upper --elements N --reps 5 --warmup 1 \
      --lines-sha256 HEX -- gpool --coordinator ADDR map upper --input F --type string --print
  time_cli.py --workload w6_sqrt_sum --elements N ... --sum REPR -- gpool ... --reduce sum

--lines-sha256: stdout holds the N expected lines (sha256 of them, each ended by a newline)
among at most two others (the CLI's "Number of cores ..." line and its closing sentence).
--sum: the last number on stdout equals this double exactly.
"""
import argparse
import hashlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time

W5_LINE = re.compile(rb"^[A-Z0-9]{100}$")
NUMBER = re.compile(rb"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def check(args, out):
    if args.lines_sha256:
        lines = out.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        values = [line for line in lines if W5_LINE.match(line)]
        others = len(lines) - len(values)
        digest = hashlib.sha256(b"".join(v + b"\n" for v in values)).hexdigest()
        if len(values) != args.elements or others > 2 or digest != args.lines_sha256:
            return ("%d upper-cased lines (expected %d), %d other lines, sha256 %s "
                    "(expected %s)" % (len(values), args.elements, others, digest,
                                       args.lines_sha256))
    if args.sum is not None:
        numbers = NUMBER.findall(out)
        if not numbers or float(numbers[-1]) != float(args.sum):
            return "the sum printed is %s, expected %s exactly (stdout: %r)" % (
                numbers[-1].decode() if numbers else "missing", args.sum, out[-300:])
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--system", default="gpool")
    parser.add_argument("--workload", required=True)
    parser.add_argument("--elements", type=int, required=True)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--lines-sha256")
    parser.add_argument("--sum")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    times = []
    for rep in range(args.warmup + args.reps):
        # stdout to a file, as `... > OUT` would: the CLI writes it as it would anywhere.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            code = subprocess.call(command, stdout=out, stderr=err)
            elapsed = time.perf_counter() - started
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        problem = ("exit status %d: %s" % (code, stderr.decode(errors="replace").strip()[-500:])
                   if code != 0 else check(args, stdout))
        if problem:
            print("%s side failed: %s: %s" % (args.system, args.workload, problem),
                  file=sys.stderr)
            return 1
        print("%s %s rep %d: %.6f s" % (args.system, args.workload, rep - args.warmup, elapsed),
              file=sys.stderr)
        if rep >= args.warmup:
            times.append(elapsed)
    median = statistics.median(times)
    print(json.dumps({"system": args.system, "workload": args.workload,
                      "elements": args.elements, "reps": len(times), "median_s": median,
                      "min_s": min(times), "max_s": max(times),
                      "rate_per_s": args.elements / median}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
