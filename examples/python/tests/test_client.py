#!/usr/bin/python3
"""The Python client (examples/python/client.py) against a cluster of two C++ workers.

Checks that it prints the seed lines exactly as the C++ CLI does, in both result modes, and
that a gRPC error becomes a non-zero exit with a clear message.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster, check, run_test  # noqa: E402

SEED_SUM_LINE = "The sum of the square of the first 5000 integers is 41679167500"


def test(bin_dir, source_dir):
    with Cluster(bin_dir, source_dir) as cluster:
        cluster.start_coordinator()
        cluster.start_cpp_worker("cpp-worker-1", slots=2)
        cluster.start_cpp_worker("cpp-worker-2", slots=2)
        cluster.wait_for_workers(2)

        expected = ["Number of cores available equals 4", SEED_SUM_LINE]
        result = cluster.client()
        check(result.returncode == 0, f"client.py failed ({result.returncode}): {result.stderr}")
        check(result.stdout.splitlines() == expected,
              f"client.py printed {result.stdout!r}, expected {expected!r}")

        # Same lines as the C++ CLI, character for character.
        cli = cluster.cli("map", "square", "1..5000")
        check(cli.returncode == 0, f"gpool map failed ({cli.returncode}): {cli.stderr}")
        check(cli.stdout == result.stdout,
              f"the C++ CLI printed {cli.stdout!r}, client.py {result.stdout!r}")

        # Every value travels and is checked against the chunk sums; small chunks make many.
        values = cluster.client("--result_mode=values", "--chunksize=7")
        check(values.returncode == 0 and values.stdout.splitlines() == expected,
              f"client.py --result_mode=values: exit {values.returncode}, "
              f"{values.stdout!r} {values.stderr!r}")

        # A gRPC error: non-zero exit (2, bad input) and a message naming the value.
        too_big = cluster.client("--range=3037000499..3037000500")
        check(too_big.returncode == 2 and "square(3037000500)" in too_big.stderr
              and "OUT_OF_RANGE" in too_big.stderr,
              f"square(3037000500): exit {too_big.returncode}, stderr {too_big.stderr!r}")
        check("The sum" not in too_big.stdout, f"a failed job printed a sum: {too_big.stdout!r}")

        check_garbled_chunks_refused(cluster.pb2)


def check_garbled_chunks_refused(pb2):
    """The client's own check of each chunk's values against what its worker reported."""
    import client  # noqa: E402  (examples_dir is on the path once the harness ran)

    started = pb2.JobStarted(job_id="job-1", total_elements=3, chunk_size=3, num_chunks=1,
                             input_type=pb2.ELEMENT_TYPE_INT64,
                             output_type=pb2.ELEMENT_TYPE_INT64)

    def chunk(values=(1, 4, 9), total=14, smallest=1, largest=9):
        return pb2.ChunkResult(
            chunk_index=0, first_element=0, element_count=3,
            values=pb2.Elements(int64s=pb2.Int64s(values=values)),
            summary=pb2.Summary(int64_summary=pb2.Int64Summary(
                sum=pb2.Int128(low=total), min=smallest, max=largest)),
            worker=pb2.WorkerRef(worker_id="w2", host="h", pid=7))

    honest = client.Reducer(client.JobInput(range_bounds=(1, 3)), want_values=True)
    honest.on_started(started)
    honest.on_chunk(chunk())
    check(honest.total == 14, f"an honest chunk summed to {honest.total}")
    for label, garbled in [("sum", chunk(total=15)),
                           ("max", chunk(largest=10)),
                           ("count", chunk(values=[1, 4]))]:
        reducer = client.Reducer(client.JobInput(range_bounds=(1, 3)), want_values=True)
        reducer.on_started(started)
        try:
            reducer.on_chunk(garbled)
        except client.ProtocolError as error:
            check("chunk 0 from worker w2 (h/7)" in str(error),
                  f"garbled {label}: the error does not name the chunk and worker: {error}")
        else:
            check(False, f"a chunk with a garbled {label} was accepted")


if __name__ == "__main__":
    run_test(test)
