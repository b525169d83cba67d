#!/usr/bin/python3
"""The Python client and worker with credentials (gpool init): a C++ worker and a Python
worker under a coordinator with mutual TLS. The Python client and the C++ CLI get the exact
sum, both workers compute; the Python client without credentials is refused and told about
--credentials; the Python worker refuses RunChunks from a client certificate.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster, check, log, run_test  # noqa: E402

SEED_SUM_LINE = "The sum of the square of the first 5000 integers is 41679167500"


def test(bin_dir, source_dir):
    with Cluster(bin_dir, source_dir, credentials=True) as cluster:
        cluster.start_coordinator()
        cpp_worker = cluster.start_cpp_worker("cpp-worker", slots=1)
        python_worker = cluster.start_python_worker("python-worker", slots=1)
        cluster.wait_for_workers(2)

        client = cluster.client("--range=1..5000", "--chunksize=100", "--result_mode=values")
        check(client.returncode == 0, f"client.py failed ({client.returncode}): {client.stderr}")
        check(client.stdout.splitlines()[-1] == SEED_SUM_LINE,
              f"client.py printed {client.stdout!r}")
        cli = cluster.cli("map", "square", "1..5000", "--chunksize=100")
        check(cli.returncode == 0, f"gpool map failed ({cli.returncode}): {cli.stderr}")
        check(cli.stdout.splitlines()[-1] == SEED_SUM_LINE, f"gpool map printed {cli.stdout!r}")
        done = {worker.ref.pid: worker.chunks_done for worker in cluster.cluster_info().workers}
        for label, process in (("C++ worker", cpp_worker), ("Python worker", python_worker)):
            check(done.get(process.pid, 0) > 0, f"the {label} computed no chunk over TLS: {done}")

        # Without credentials the handshake fails, and the client says what to check.
        plain = cluster.run(["/usr/bin/python3", os.path.join(cluster.examples_dir, "client.py"),
                             f"--coordinator={cluster.address}", f"--stubs={cluster.stubs_dir}",
                             "--connect_timeout=2", "--range=1..10"])
        check(plain.returncode == 3, f"client.py without credentials exited {plain.returncode}")
        check("--credentials" in plain.stderr, f"client.py without credentials: {plain.stderr!r}")

        # The Python worker runs chunks for the coordinator's certificate only.
        import gpool_common  # noqa: E402  (on the path once the stubs are generated)
        worker_address = next(worker.address for worker in cluster.cluster_info().workers
                              if worker.ref.pid == python_worker.pid)
        channel = gpool_common.open_channel(cluster.grpc, worker_address, cluster.credentials,
                                            "client")
        try:
            cluster.pb2_grpc.WorkerStub(channel).RunChunks(
                cluster.pb2.RunChunksRequest(job_id="j", function="square"), timeout=10)
            raise AssertionError("RunChunks with a client certificate succeeded")
        except cluster.grpc.RpcError as error:
            log(f"RunChunks with a client certificate: {error.code().name}: {error.details()}")
            check(error.code() == cluster.grpc.StatusCode.PERMISSION_DENIED,
                  f"RunChunks with a client certificate: {error.code().name}")
            check(error.details() == "role client may not call gpool.v1.Worker/RunChunks",
                  f"RunChunks with a client certificate: {error.details()!r}")
        finally:
            channel.close()


if __name__ == "__main__":
    run_test(test)
