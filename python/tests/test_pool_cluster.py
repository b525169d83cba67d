"""gpool.Pool against clusters the test starts: remote address, C++ and Python workers in one
pool, a worker killed mid-job, mutual TLS, and a private cluster's lifetime."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import gpool
from conftest import PACKAGE_ROOT, TESTS_DIR, wait_until
from gpool import Pool

COUNT = 100_000
SQUARES_SUM = COUNT * (COUNT + 1) * (2 * COUNT + 1) // 6


def test_pool_remoteAddress_coresAreClusterSlotsAndMapIsExact(cluster):
    cluster.start_coordinator()
    cluster.start_python_worker("python-worker", slots=3)
    cluster.info(min_workers=1)
    with Pool(address=cluster.address) as pool:
        assert pool._processes == 3
        assert sum(pool.map("square", range(1, COUNT + 1))) == SQUARES_SUM


def test_pool_coordinatorFromEnvironment_usesIt(cluster, monkeypatch):
    cluster.start_coordinator()
    cluster.start_python_worker("python-worker")
    cluster.info(min_workers=1)
    monkeypatch.setenv("GPOOL_COORDINATOR", cluster.address)
    with Pool() as pool:
        assert pool.address == cluster.address
        assert pool._cluster is None


def test_map_cppAndPythonWorkers_bothComputeChunks(cluster):
    cluster.start_coordinator()
    cpp = cluster.start_cpp_worker("cpp-worker", slots=1)
    python = cluster.start_python_worker("python-worker", slots=1)
    cluster.info(min_workers=2)
    with Pool(address=cluster.address) as pool:
        pids = set()
        values = [0] * COUNT
        # The chunks' worker PIDs, beside their values.
        name = "square"
        for job_input, count in gpool.pool._job_inputs(pool._pb2, range(1, COUNT + 1)):
            for first, chunk_values, pid in pool._chunks(name, job_input, count, 500):
                values[first:first + len(chunk_values)] = chunk_values
                pids.add(pid)
    assert sum(values) == SQUARES_SUM and values == [x * x for x in range(1, COUNT + 1)]
    assert pids == {cpp.pid, python.pid}


def test_map_workerKilledMidJob_resultIsExact(cluster):
    cluster.start_coordinator("--lease_timeout=1s", "--heartbeat_interval=200ms")
    victim = cluster.start_python_worker("victim", slots=1)
    cluster.start_python_worker("survivor", slots=1)
    cluster.info(min_workers=2)
    with Pool(address=cluster.address) as pool:
        results = pool.imap_unordered("test_slow_identity", range(3000), chunksize=20)
        received = [next(results) for _ in range(100)]
        os.kill(victim.pid, signal.SIGKILL)
        received.extend(results)
    assert sorted(received) == list(range(3000))


def test_pool_credentials_mapsOverMutualTls(secure_cluster):
    secure_cluster.start_coordinator()
    secure_cluster.start_python_worker("python-worker", slots=2)
    secure_cluster.start_cpp_worker("cpp-worker", slots=1)
    secure_cluster.info(min_workers=2)
    with Pool(address=secure_cluster.address, credentials=secure_cluster.credentials) as pool:
        assert sum(pool.map("square", range(1, 5001))) == 41679167500


def test_pool_noCredentialsForSecureCoordinator_raisesPoolError(secure_cluster):
    secure_cluster.start_coordinator()
    with pytest.raises(gpool.PoolError, match="UNAVAILABLE|DEADLINE_EXCEEDED"):
        Pool(address=secure_cluster.address)


def test_pool_privateClusterWithCredentials_mapsOverMutualTls(secure_cluster):
    with Pool(1, credentials=secure_cluster.credentials) as pool:
        assert pool.map("square", [4, 5]) == [16, 25]


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def _private_cluster_pids(pool):
    return [process.pid for _, process in pool._cluster._children]


def test_pool_exit_stopsPrivateCluster(bin_dir):
    with Pool(2) as pool:
        pids = _private_cluster_pids(pool)
        assert len(pids) == 3 and all(_running(pid) for pid in pids)
    assert not any(_running(pid) for pid in pids)


def test_pool_programKilled_privateClusterDies(bin_dir, tmp_path):
    program = tmp_path / "dies.py"
    program.write_text(textwrap.dedent("""
        import os, signal
        from gpool import Pool
        if __name__ == "__main__":  # Workers load this script, as multiprocessing's spawn.
            pool = Pool(2)
            print(" ".join(str(p.pid) for _, p in pool._cluster._children), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PACKAGE_ROOT, TESTS_DIR]))
    result = subprocess.run([sys.executable, str(program)], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == -signal.SIGKILL, result.stderr
    pids = [int(pid) for pid in result.stdout.split()]
    assert len(pids) == 3
    wait_until("the private cluster's processes are gone",
               lambda: not any(_running(pid) for pid in pids), 10)
