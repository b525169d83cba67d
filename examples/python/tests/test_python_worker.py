#!/usr/bin/python3
"""The Python worker (examples/python/worker.py) alone behind a coordinator.

Checks what the mixed-pool test cannot pin to it: both result modes, explicit (negative)
value lists, calls of several chunks (never more than its --max_chunks_per_call, which it
enforces), the exact-arithmetic error naming the value, that a function it does not offer is
not sent to it, re-registration after the coordinator declared it dead (a NOT_FOUND
heartbeat), that it confirms its incarnation so that a registration forged for its address
is refused, and a clean exit on SIGTERM.
"""

import os
import signal
import time
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster, TestFailure, check, log, run_test  # noqa: E402

LEASE_TIMEOUT_S = 1.0


def expect_output(result, lines, what):
    check(result.returncode == 0, f"{what}: exit {result.returncode}, stderr {result.stderr!r}")
    check(result.stdout.splitlines() == lines,
          f"{what}: printed {result.stdout!r}, expected {lines!r}")


def test(bin_dir, source_dir):
    with Cluster(bin_dir, source_dir) as cluster:
        # A short lease so the re-registration check below takes about a second, and a short
        # wait for workers for the function nobody here offers.
        coordinator_flags = (f"--lease_timeout={int(LEASE_TIMEOUT_S * 1000)}ms",
                             "--heartbeat_interval=200ms", "--worker_wait=1s")
        coordinator = cluster.start_coordinator(*coordinator_flags)
        # At most 3 chunks per call: one-element chunks below then travel 3 to a call, and a
        # call of more would be refused (FAILED_PRECONDITION, a fault of the worker).
        worker = cluster.start_python_worker("python-worker", 3, "--max_chunks_per_call=3")
        first = cluster.wait_for_workers(1).workers[0]
        check(first.ref.pid == worker.pid and first.slots == 3,
              f"registered {first.ref.pid} with {first.slots} slots, expected pid "
              f"{worker.pid} with 3")
        cores = "Number of cores available equals 3"

        for mode in ("sum", "values"):
            expect_output(cluster.client(f"--result_mode={mode}", "--chunksize=100"),
                          [cores, "The sum of the square of the first 5000 integers is "
                                  "41679167500"], f"seed map, {mode} mode")
        # The largest exact inputs, on both sides of zero; their sum exceeds int64.
        expect_output(cluster.client("--list=3037000499,-3037000499,3037000499,-3037000499",
                                     "--result_mode=values", "--chunksize=1"),
                      [cores, "The sum of the square of the 4 given integers is "
                              f"{4 * 3037000499 ** 2}"], "largest exact squares")
        expect_output(cluster.client("--function=identity", "--range=-10..10",
                                     "--result_mode=values"),
                      [cores, "The sum of the identity of the integers from -10 to 10 is 0"],
                      "identity over a negative range")
        for mode in ("sum", "values"):
            expect_output(cluster.client("--range=1..300", "--chunksize=1",
                                         f"--result_mode={mode}"),
                          [cores, "The sum of the square of the first 300 integers is 9045050"],
                          f"one-element chunks, several per call, {mode} mode")
        # No call carried more chunks than the worker's max: it refused none.
        faults = cluster.wait_for_workers(1).workers[0].faults
        check(faults == 0, f"the Python worker refused or failed {faults} call(s)")

        too_big = cluster.client("--range=-3037000500..-3037000490")
        check(too_big.returncode == 2 and "square(-3037000500)" in too_big.stderr
              and "OUT_OF_RANGE" in too_big.stderr,
              f"square(-3037000500): exit {too_big.returncode}, stderr {too_big.stderr!r}")

        # cube is a C++ worker function: the coordinator must not send it here. The job
        # waits --worker_wait for a worker that offers it, then fails UNAVAILABLE (exit 3).
        cube = cluster.client("--function=cube", "--range=1..10")
        check(cube.returncode == 3 and "UNAVAILABLE" in cube.stderr
              and "no worker offering 'cube'" in cube.stderr,
              f"cube on a Python-only pool: exit {cube.returncode}, stderr {cube.stderr!r}")

        # Freeze the worker past its lease: the coordinator declares it dead, the next
        # heartbeat gets NOT_FOUND, and the worker registers again under a new id.
        worker.send_signal(signal.SIGSTOP)
        try:
            cluster.wait_until("the coordinator dropped the frozen worker",
                               lambda: not cluster.cluster_info().workers,
                               timeout=LEASE_TIMEOUT_S + 5)
        finally:
            worker.send_signal(signal.SIGCONT)
        again = cluster.wait_for_workers(1).workers[0]
        check(again.ref.pid == worker.pid and again.ref.worker_id != first.ref.worker_id,
              f"after NOT_FOUND: worker {again.ref.worker_id} pid {again.ref.pid}, before "
              f"{first.ref.worker_id} pid {first.ref.pid}")
        check("registering again" in cluster.log_text("python-worker"),
              "the worker did not log its NOT_FOUND heartbeat")
        log(f"re-registered as {again.ref.worker_id} (was {first.ref.worker_id})")
        expect_output(cluster.client(), [cores, "The sum of the square of the first 5000 "
                                                "integers is 41679167500"],
                      "seed map after re-registration")

        # A registration forged for the worker's address: the coordinator asks the worker
        # there (ConfirmIncarnation), which still confirms its own incarnation, so the
        # impostor is refused and the worker keeps its registration.
        with cluster.grpc.insecure_channel(cluster.address) as channel:
            forged = cluster.pb2.RegisterWorkerRequest(
                address=again.address, pid=4242, host="impostor", slots=1,
                functions=[cluster.pb2.FunctionSignature(
                    name="square", input_type=cluster.pb2.ELEMENT_TYPE_INT64,
                    output_type=cluster.pb2.ELEMENT_TYPE_INT64)],
                max_chunks_per_call=1, incarnation=12345)
            try:
                cluster.pb2_grpc.CoordinatorStub(channel).RegisterWorker(forged, timeout=30)
                check(False, "a forged registration for the Python worker's address was "
                             "accepted")
            except cluster.grpc.RpcError as error:
                check(error.code() == cluster.grpc.StatusCode.ALREADY_EXISTS
                      and again.ref.worker_id in error.details(),
                      f"forged registration: {error.code().name}: {error.details()}")
        still = cluster.wait_for_workers(1).workers
        check(len(still) == 1 and still[0].ref.worker_id == again.ref.worker_id,
              f"after the forged registration: {[w.ref.worker_id for w in still]}")
        log("a forged registration for its address was refused ALREADY_EXISTS")

        # The coordinator SIGKILLed and started again on its port: the worker's next beat
        # reaches the new coordinator (another coordinator_incarnation, an unknown worker id),
        # and it registers again at once, as the same process.
        before = cluster.cluster_info()
        coordinator.kill()
        coordinator.wait()
        os.remove(os.path.join(cluster.scratch, "coordinator.port"))
        port = cluster.address.rsplit(":", 1)[1]
        cluster.start_coordinator(*coordinator_flags, f"--listen=127.0.0.1:{port}")
        restarted = time.monotonic()

        def registered_again():
            try:
                return bool(cluster.cluster_info(timeout=1).workers)
            except TestFailure:  # the first call may still meet the old connection
                return False

        cluster.wait_until("the worker registered with the restarted coordinator",
                           registered_again, timeout=10)
        took = time.monotonic() - restarted
        after = cluster.cluster_info()
        # Within two of its 200 ms heartbeat intervals, with room for a loaded machine.
        check(took < 1.5, f"the worker registered again {took:.2f}s after the restart")
        check(after.workers[0].ref.pid == worker.pid,
              f"registered after the restart: pid {after.workers[0].ref.pid}")
        check(before.coordinator_incarnation != 0 and after.coordinator_incarnation != 0
              and before.coordinator_incarnation != after.coordinator_incarnation,
              f"coordinator incarnation {before.coordinator_incarnation:016x} -> "
              f"{after.coordinator_incarnation:016x}")
        log(f"re-registered {took:.2f}s after the coordinator restarted")

        code = cluster.stop(worker)
        check(code == 0, f"the Python worker exited with {code} on SIGTERM")


if __name__ == "__main__":
    run_test(test)
