"""Fixtures of the gpool package's tests: real gpool binaries and Python workers on loopback.

$GPOOL_BIN_DIR must name the directory of gpool-coordinator, gpool-worker and gpool (ctest
sets it to build/bin). A missing binary or module fails the tests; nothing is skipped.
Every process a test starts is stopped by PID at the end, and gets SIGKILL if the test
process dies (PR_SET_PDEATHSIG).
"""

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(TESTS_DIR)
STARTUP_TIMEOUT_S = 20.0
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def wait_until(description, predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting until {description}")
        time.sleep(0.02)


@pytest.fixture(scope="session")
def bin_dir():
    directory = os.environ.get("GPOOL_BIN_DIR", "")
    assert directory, "set GPOOL_BIN_DIR to the directory of the built gpool binaries"
    for binary in ("gpool-coordinator", "gpool-worker", "gpool"):
        path = os.path.join(directory, binary)
        assert os.access(path, os.X_OK), f"{path} is not built (ninja -C build)"
    return directory


class Cluster:
    """A coordinator and workers started by one test; stop() ends them all by PID."""

    def __init__(self, bin_dir, credentials=False):
        self.bin_dir = bin_dir
        self.scratch = tempfile.mkdtemp(prefix="gpool-pytest-")
        self.processes = {}  # label -> Popen
        self.credentials = os.path.join(self.scratch, "credentials") if credentials else ""
        self.address = None
        if credentials:
            subprocess.run([os.path.join(bin_dir, "gpool"), "init", self.credentials],
                           check=True, capture_output=True, timeout=30)

    def _flags(self):
        return [f"--credentials={self.credentials}"] if self.credentials else []

    def _start(self, label, argv, env=None):
        log = open(os.path.join(self.scratch, f"{label}.log"), "wb")
        self.processes[label] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            preexec_fn=_die_with_parent)
        log.close()
        return self.processes[label]

    def _port(self, label, port_file):
        def written():
            assert self.processes[label].poll() is None, \
                f"{label} exited: {self.log(label)}"
            return os.path.exists(port_file) and open(port_file).read().endswith("\n")
        wait_until(f"{label} writes its port", written, STARTUP_TIMEOUT_S)
        return int(open(port_file).read())

    def start_coordinator(self, *flags):
        port_file = os.path.join(self.scratch, "coordinator.port")
        self._start("coordinator", [os.path.join(self.bin_dir, "gpool-coordinator"),
                                    "--listen=127.0.0.1:0", f"--port_file={port_file}",
                                    *self._flags(), *flags])
        self.address = f"127.0.0.1:{self._port('coordinator', port_file)}"
        return self.address

    def start_cpp_worker(self, label, slots=1):
        return self._start(label, [os.path.join(self.bin_dir, "gpool-worker"),
                                   f"--coordinator={self.address}", "--listen=127.0.0.1:0",
                                   f"--slots={slots}", *self._flags()])

    def start_python_worker(self, label, slots=1, modules=("functions_for_tests",)):
        port_file = os.path.join(self.scratch, f"{label}.port")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([PACKAGE_ROOT, TESTS_DIR])
        process = self._start(label, [sys.executable, "-m", "gpool.worker",
                                      f"--coordinator={self.address}", f"--slots={slots}",
                                      f"--port_file={port_file}",
                                      *[f"--import={module}" for module in modules],
                                      *self._flags()], env=env)
        self._port(label, port_file)
        return process

    def info(self, min_workers=0):
        from gpool import _common
        from gpool._stubs import load
        grpc, pb2, pb2_grpc = load()
        with _common.open_channel(grpc, self.address, self.credentials, "client") as channel:
            return pb2_grpc.CoordinatorStub(channel).GetClusterInfo(
                pb2.GetClusterInfoRequest(min_workers=min_workers),
                timeout=STARTUP_TIMEOUT_S, wait_for_ready=True)

    def log(self, label):
        with open(os.path.join(self.scratch, f"{label}.log"), errors="replace") as file:
            return file.read()[-3000:]

    def stop(self):
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.kill()
            process.wait()


@pytest.fixture
def cluster(bin_dir):
    started = Cluster(bin_dir)
    yield started
    started.stop()


@pytest.fixture
def secure_cluster(bin_dir):
    started = Cluster(bin_dir, credentials=True)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def local_pool(bin_dir):
    """A private local cluster of two Python workers, shared by a module's tests."""
    sys.path.insert(0, TESTS_DIR)
    import functions_for_tests  # noqa: F401  (its @gpool.function ones go to the workers)
    from gpool import Pool
    with Pool(2) as pool:
        yield pool
