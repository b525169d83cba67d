"""A small harness for the Python example tests: a private gpool cluster on loopback.

Each test starts the real binaries (coordinator, C++ workers) and the Python worker as
processes, waits on conditions with deadlines (port files, GetClusterInfo min_workers), and
stops every process it started, by PID, whatever happens: a `with Cluster(...)` block stops
them on exit, and each daemon also gets SIGKILL if the test process dies (PR_SET_PDEATHSIG),
e.g. when ctest kills it at its TIMEOUT.

Usage: test_x.py BIN_DIR SOURCE_DIR. A missing dependency is a test failure, not a skip.
"""

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

INSTALL_COMMAND = ("apt-get update && apt-get install -y python3-grpcio python3-protobuf "
                   "protobuf-compiler-grpc")

# How long a daemon may take to write its port file, and the workers to register.
STARTUP_TIMEOUT_S = 10.0
# How long a stopped daemon may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT_S = 8.0
# Deadline of one client command run by a test.
COMMAND_TIMEOUT_S = 30.0

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    # Runs in the child between fork and exec: only a prepared ctypes call, no imports.
    # SIGKILL, not SIGTERM: it is the fallback for a test that was itself killed, and it
    # also ends a daemon the test had stopped with SIGSTOP.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class TestFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_command_line():
    if len(sys.argv) != 3:
        print(f"usage: {sys.argv[0]} BIN_DIR SOURCE_DIR", file=sys.stderr)
        sys.exit(2)
    return os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])


def require_dependencies(bin_dir):
    """Fails (not skips) with the install command when something the tests need is missing."""
    missing = []
    for module, package in (("grpc", "python3-grpcio"), ("google.protobuf", "python3-protobuf")):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"Python module '{module}' (Debian package {package}) is not "
                           f"importable by {sys.executable}")
    if shutil.which("protoc") is None:
        missing.append("protoc (Debian package protobuf-compiler) is not on PATH")
    if not os.access("/usr/bin/grpc_python_plugin", os.X_OK):
        missing.append("/usr/bin/grpc_python_plugin (Debian package protobuf-compiler-grpc) "
                       "is missing")
    for binary in ("gpool-coordinator", "gpool-worker", "gpool"):
        if not os.access(os.path.join(bin_dir, binary), os.X_OK):
            missing.append(f"{os.path.join(bin_dir, binary)} is not built")
    if missing:
        raise TestFailure("missing dependencies:\n  " + "\n  ".join(missing) +
                          f"\ninstall the packages with: {INSTALL_COMMAND}")


def run_test(test_function):
    """Runs test_function(bin_dir, source_dir); prints PASS/FAIL and exits 0/1."""
    bin_dir, source_dir = parse_command_line()
    # ctest (or a user) stopping the test with SIGTERM still runs the cleanup in `finally`.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"killed by signal {signum}"))
    started = time.monotonic()
    name = os.path.basename(sys.argv[0])
    try:
        require_dependencies(bin_dir)
        test_function(bin_dir, source_dir)
    except TestFailure as failure:
        print(f"FAIL {name} after {time.monotonic() - started:.2f}s: {failure}", flush=True)
        sys.exit(1)
    print(f"PASS {name} in {time.monotonic() - started:.2f}s", flush=True)


class Cluster:
    """Processes of one test, a scratch directory, and the generated stubs.

    With credentials=True, `gpool init` makes credentials in the scratch directory, and every
    process (and the harness's own channel) uses them: mutual TLS with roles.

    Not thread-safe; one per test.
    """

    def __init__(self, bin_dir, source_dir, credentials=False):
        self.bin_dir = bin_dir
        self.examples_dir = os.path.join(source_dir, "examples", "python")
        self.scratch = tempfile.mkdtemp(prefix="gpool-python-test-")
        self.stubs_dir = os.path.join(self.scratch, "stubs")
        self.credentials = os.path.join(self.scratch, "credentials") if credentials else ""
        self.processes = []  # (label, Popen, log path)
        self.address = None
        self._channel = None
        self.grpc = self.pb2 = self.pb2_grpc = None

    def __enter__(self):
        self._generate_stubs()
        if self.credentials:
            result = subprocess.run([os.path.join(self.bin_dir, "gpool"), "init",
                                     self.credentials], capture_output=True, text=True,
                                    timeout=COMMAND_TIMEOUT_S)
            check(result.returncode == 0, f"gpool init failed ({result.returncode}): "
                                          f"{result.stderr}")
        return self

    def _credentials_flags(self):
        return [f"--credentials={self.credentials}"] if self.credentials else []

    def __exit__(self, exc_type, exc, traceback):
        # Closed first: the coordinator's shutdown waits (up to its grace period) while a
        # client connection is open.
        if self._channel is not None:
            self._channel.close()
        self.stop_all()
        if exc is not None:
            self.dump_logs()
        shutil.rmtree(self.scratch, ignore_errors=True)
        return False

    # --- setup -----------------------------------------------------------------------------

    def _generate_stubs(self):
        script = os.path.join(self.examples_dir, "generate_stubs.sh")
        result = subprocess.run([script, self.stubs_dir], capture_output=True, text=True,
                                timeout=COMMAND_TIMEOUT_S)
        check(result.returncode == 0,
              f"{script} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        sys.path.insert(0, self.examples_dir)
        import gpool_common  # noqa: E402  (found only once examples_dir is on the path)
        self.grpc, self.pb2, self.pb2_grpc = gpool_common.load_stubs("harness", self.stubs_dir)

    def _start(self, label, argv):
        log_path = os.path.join(self.scratch, f"{label}.log")
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                       stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self.processes.append((label, process, log_path))
        log(f"started {label} (pid {process.pid}): {' '.join(argv)}")
        return process

    def _await_port_file(self, label, process, port_file):
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as file:
                    text = file.read()
                if text.endswith("\n"):
                    return int(text)
            check(process.poll() is None,
                  f"{label} exited with {process.returncode} before writing its port file")
            time.sleep(0.02)
        raise TestFailure(f"{label} wrote no port file within {STARTUP_TIMEOUT_S}s")

    def start_coordinator(self, *flags):
        port_file = os.path.join(self.scratch, "coordinator.port")
        process = self._start("coordinator", [
            os.path.join(self.bin_dir, "gpool-coordinator"), "--listen=127.0.0.1:0",
            f"--port_file={port_file}", *self._credentials_flags(), *flags])
        self.address = f"127.0.0.1:{self._await_port_file('coordinator', process, port_file)}"
        log(f"coordinator serving on {self.address}")
        return process

    def start_cpp_worker(self, label, slots):
        return self._start(label, [
            os.path.join(self.bin_dir, "gpool-worker"), f"--coordinator={self.address}",
            "--listen=127.0.0.1:0", f"--slots={slots}", *self._credentials_flags()])

    def start_python_worker(self, label, slots, *flags):
        port_file = os.path.join(self.scratch, f"{label}.port")
        process = self._start(label, [
            "/usr/bin/python3", os.path.join(self.examples_dir, "worker.py"),
            f"--coordinator={self.address}", "--listen=127.0.0.1:0", f"--slots={slots}",
            f"--port_file={port_file}", f"--stubs={self.stubs_dir}",
            *self._credentials_flags(), *flags])
        port = self._await_port_file(label, process, port_file)
        log(f"{label} serving on 127.0.0.1:{port}")
        return process

    # --- queries ---------------------------------------------------------------------------

    def cluster_info(self, min_workers=0, timeout=STARTUP_TIMEOUT_S):
        """GetClusterInfo; with min_workers > 0 the coordinator waits (up to `timeout`)."""
        if self._channel is None:
            import gpool_common  # noqa: E402  (on the path once the stubs are generated)
            self._channel = gpool_common.open_channel(self.grpc, self.address,
                                                      self.credentials, "client")
        stub = self.pb2_grpc.CoordinatorStub(self._channel)
        try:
            return stub.GetClusterInfo(self.pb2.GetClusterInfoRequest(min_workers=min_workers),
                                       timeout=timeout, wait_for_ready=True)
        except self.grpc.RpcError as error:
            raise TestFailure(f"GetClusterInfo(min_workers={min_workers}) failed: "
                              f"{error.code().name}: {error.details()}")

    def wait_for_workers(self, count):
        info = self.cluster_info(min_workers=count)
        log(f"{len(info.workers)} worker(s) registered, {info.total_slots} slots: " +
            ", ".join(f"{w.ref.worker_id} pid {w.ref.pid} [{','.join(f.name for f in w.functions)}]"
                      for w in info.workers))
        return info

    def wait_until(self, description, predicate, timeout):
        """Polls predicate() until true or the deadline; for states with no blocking RPC."""
        deadline = time.monotonic() + timeout
        while not predicate():
            check(time.monotonic() < deadline, f"timed out after {timeout}s waiting until "
                                               f"{description}")
            time.sleep(0.05)

    def run(self, argv, timeout=COMMAND_TIMEOUT_S):
        """Runs a client command to completion; returns the CompletedProcess."""
        started = time.monotonic()
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure(f"{' '.join(argv)} did not finish within {timeout}s")
        lines = result.stdout.count("\n")
        log(f"ran {' '.join(argv)}: exit {result.returncode}, {lines} stdout lines, "
            f"{time.monotonic() - started:.2f}s")
        return result

    def client(self, *args):
        return self.run(["/usr/bin/python3", os.path.join(self.examples_dir, "client.py"),
                         f"--coordinator={self.address}", f"--stubs={self.stubs_dir}",
                         "--timeout=20", *self._credentials_flags(), *args])

    def cli(self, *args):
        return self.run([os.path.join(self.bin_dir, "gpool"), f"--coordinator={self.address}",
                         *self._credentials_flags(), *args])

    # --- teardown --------------------------------------------------------------------------

    def stop(self, process, timeout=STOP_TIMEOUT_S):
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code (negative if killed)."""
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # A test may have stopped it.
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def stop_all(self):
        # Workers before the coordinator, so none spends its shutdown re-registering.
        for label, process, _ in reversed(self.processes):
            started = time.monotonic()
            already_exited = process.poll() is not None
            code = self.stop(process)
            if not already_exited:
                log(f"stopped {label} (pid {process.pid}): exit {code}, "
                    f"{time.monotonic() - started:.2f}s")

    def log_text(self, label):
        for name, _, path in self.processes:
            if name == label:
                with open(path, errors="replace") as file:
                    return file.read()
        raise KeyError(label)

    def dump_logs(self):
        for label, process, path in self.processes:
            with open(path, errors="replace") as file:
                lines = file.read().splitlines()
            print(f"----- {label} (pid {process.pid}, exit {process.returncode}), "
                  f"last {min(len(lines), 40)} of {len(lines)} log lines -----")
            print("\n".join(lines[-40:]), flush=True)
