#!/usr/bin/python3
"""A Python generator streamed into a job (examples/python/stream_map.py, MapStream) against
two C++ workers: the sum is exact and the coordinator reads the generator as it maps, not
before (results come while the generator still runs)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster, check, run_test  # noqa: E402


def test(bin_dir, source_dir):
    with Cluster(bin_dir, source_dir) as cluster:
        cluster.start_coordinator()
        cluster.start_cpp_worker("cpp-worker-1", slots=2)
        cluster.start_cpp_worker("cpp-worker-2", slots=2)
        cluster.wait_for_workers(2)
        sys.path.insert(0, cluster.examples_dir)
        import gpool_common  # noqa: E402
        import stream_map  # noqa: E402

        n = 2_000_000
        produced = [0]
        produced_at_first_result = []

        def generator():
            for x in range(1, n + 1):
                produced[0] = x
                yield x

        def on_chunk(chunk):
            if not produced_at_first_result:
                produced_at_first_result.append(produced[0])

        channel = gpool_common.open_channel(cluster.grpc, cluster.address, "", "client")
        try:
            total, count = stream_map.map_stream(cluster.grpc, cluster.pb2, cluster.pb2_grpc,
                                                 channel, "square", generator(),
                                                 chunk_size=10_000, timeout=120,
                                                 on_chunk=on_chunk)
        finally:
            channel.close()
        check(count == n, f"{count} elements mapped, expected {n}")
        check(total == n * (n + 1) * (2 * n + 1) // 6, f"sum {total} is not exact")
        check(produced_at_first_result and produced_at_first_result[0] < n,
              f"the first result came only after the generator had produced "
              f"{produced_at_first_result} of {n} values: the input was not streamed")


if __name__ == "__main__":
    run_test(test)
