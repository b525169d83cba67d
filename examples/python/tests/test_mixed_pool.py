#!/usr/bin/python3
"""A mixed-language pool: one C++ worker and one Python worker (examples/python/worker.py).

Runs jobs across both and checks the sums are exact, every element was computed exactly
once, and both workers took chunks: in the C++ CLI's trace (SUM mode), in the Python
client's trace (VALUES mode, every value checked), and in the coordinator's chunks_done.
The Python worker then exits 0 on SIGTERM.
"""

import collections
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster, check, log, run_test  # noqa: E402

COUNT = 100_000
CHUNK_SIZE = 1000
SUM_LINE = f"The sum of the square of the first {COUNT} integers is {COUNT * (COUNT + 1) * (2 * COUNT + 1) // 6}"
TRACE = re.compile(r"^Worker (\d+)(@\S+)? calculating square of (-?\d+)$")
TRACE_ANY = re.compile(r"^Worker (\d+)(@\S+)? calculating ")


def check_trace(output, worker_pids, what):
    """Checks a map's stdout: cores line, one trace line per element, the exact sum line.

    Returns the number of elements each PID computed.
    """
    lines = output.splitlines()
    check(len(lines) == COUNT + 2, f"{what}: {len(lines)} lines, expected {COUNT + 2}")
    check(lines[0] == "Number of cores available equals 4", f"{what}: first line {lines[0]!r}")
    check(lines[-1] == SUM_LINE, f"{what}: last line {lines[-1]!r}, expected {SUM_LINE!r}")
    elements_by_pid = collections.Counter()
    seen = bytearray(COUNT + 1)
    for line in lines[1:-1]:
        match = TRACE.match(line)
        check(match is not None, f"{what}: unexpected line {line!r}")
        pid, x = int(match.group(1)), int(match.group(3))
        check(pid in worker_pids.values(), f"{what}: element {x} computed by unknown PID {pid}")
        check(1 <= x <= COUNT and not seen[x], f"{what}: element {x} out of range or repeated")
        seen[x] = 1
        elements_by_pid[pid] += 1
    for label, pid in worker_pids.items():
        check(elements_by_pid[pid] > 0 and elements_by_pid[pid] % CHUNK_SIZE == 0,
              f"{what}: the {label} (pid {pid}) computed {elements_by_pid[pid]} elements; "
              f"expected a positive multiple of {CHUNK_SIZE}: {dict(elements_by_pid)}")
    log(f"{what}: " + ", ".join(f"{label} pid {pid}: {elements_by_pid[pid] // CHUNK_SIZE} "
                                f"chunks" for label, pid in worker_pids.items()))


def test(bin_dir, source_dir):
    with Cluster(bin_dir, source_dir) as cluster:
        cluster.start_coordinator()
        cpp_worker = cluster.start_cpp_worker("cpp-worker", slots=2)
        python_worker = cluster.start_python_worker("python-worker", slots=2)
        info = cluster.wait_for_workers(2)
        # PIDs as the workers registered them: the trace reports these.
        worker_pids = {"C++ worker": cpp_worker.pid, "Python worker": python_worker.pid}
        registered = {worker.ref.pid: [(f.name, f.input_type, f.output_type)
                                       for f in worker.functions] for worker in info.workers}
        int64, string = cluster.pb2.ELEMENT_TYPE_INT64, cluster.pb2.ELEMENT_TYPE_STRING
        check(registered.get(python_worker.pid) == [("identity", int64, int64),
                                                    ("square", int64, int64),
                                                    ("upper", string, string)],
              f"the Python worker registered {registered}")
        check(cpp_worker.pid in registered, f"the C++ worker is not registered: {registered}")

        # The C++ CLI: results in SUM mode (the combiner), trace from the chunk results.
        cli = cluster.cli("map", "square", f"1..{COUNT}", f"--chunksize={CHUNK_SIZE}", "--trace")
        check(cli.returncode == 0, f"gpool map failed ({cli.returncode}): {cli.stderr}")
        check_trace(cli.stdout, worker_pids, "gpool map --trace")

        # The Python client in VALUES mode: every value travels and is checked.
        client = cluster.client(f"--range=1..{COUNT}", f"--chunksize={CHUNK_SIZE}",
                                "--result_mode=values", "--trace")
        check(client.returncode == 0, f"client.py failed ({client.returncode}): {client.stderr}")
        check_trace(client.stdout, worker_pids, "client.py --result_mode=values --trace")

        # Strings through `upper`, which both offer (string -> string): each word is its own
        # chunk, both workers take some, and the results come back in input order.
        words = [f"word{index}-{'abcdefgh'[index % 8] * (index % 5)}" for index in range(200)]
        upper = cluster.client("--function=upper", "--type=string", f"--list={','.join(words)}",
                               "--chunksize=1", "--print", "--trace")
        check(upper.returncode == 0, f"client.py upper failed ({upper.returncode}): "
                                     f"{upper.stderr}")
        lines = upper.stdout.splitlines()
        traced = [line for line in lines[1:] if line.startswith("Worker ")]
        printed = [line for line in lines[1:] if not line.startswith("Worker ")]
        check(printed == [word.upper() for word in words],
              f"upper printed {printed[:5]}..., expected {[w.upper() for w in words][:5]}...")
        upper_pids = {int(TRACE_ANY.match(line).group(1)) for line in traced}
        check(len(traced) == len(words) and upper_pids == set(worker_pids.values()),
              f"upper: {len(traced)} trace lines from PIDs {upper_pids}; expected "
              f"{len(words)} from {set(worker_pids.values())}")

        # The coordinator's own accounting agrees: both took chunks of the jobs.
        done = {worker.ref.pid: worker.chunks_done for worker in cluster.cluster_info().workers}
        log(f"chunks_done by PID: {done}")
        for label, pid in worker_pids.items():
            check(done.get(pid, 0) > 0, f"the {label} (pid {pid}) has chunks_done "
                                        f"{done.get(pid, 0)}")
        check(sum(done.values()) >= 2 * COUNT // CHUNK_SIZE,
              f"chunks_done adds up to {sum(done.values())}, expected at least "
              f"{2 * COUNT // CHUNK_SIZE}")

        # A clean exit on SIGTERM, and the worker says how many chunks it computed.
        code = cluster.stop(python_worker)
        check(code == 0, f"the Python worker exited with {code} on SIGTERM")
        check("stopped after" in cluster.log_text("python-worker"),
              "the Python worker did not log its shutdown")


if __name__ == "__main__":
    run_test(test)
