"""A private gpool cluster on loopback for Pool() without an address.

One coordinator (the gpool-coordinator binary from $GPOOL_BIN_DIR, else PATH) on
127.0.0.1 with an ephemeral port, and `processes` Python workers of one slot each
(python3 -m gpool.worker, with the caller's main script and the modules of its
@gpool.function functions, so they offer the caller's functions). Python workers, not C++
ones: the point of a private cluster is the caller's own functions; they offer the built-ins
(square, identity) too, and gpool.python.call_batch, which runs the lambdas and other
callables the Pool sends by value.

Every process gets SIGKILL when the caller dies (PR_SET_PDEATHSIG, as the C++ CLI's local
cluster does), and stop() kills them: a private cluster holds no state worth a graceful
shutdown. PR_SET_PDEATHSIG follows the thread that started the process: create the Pool from
a thread that outlives it (the main thread, typically).
"""

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from gpool import registry

STARTUP_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


class ClusterError(RuntimeError):
    pass


def _die_with_parent(parent_pid):
    def prepare():
        # Between fork and exec: a prepared ctypes call only.
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # The parent died before prctl took effect.
            os._exit(1)
    return prepare


def find_coordinator():
    for directory in (os.environ.get("GPOOL_BIN_DIR"),):
        if directory:
            path = os.path.join(directory, "gpool-coordinator")
            if os.access(path, os.X_OK):
                return path
            raise ClusterError(f"$GPOOL_BIN_DIR={directory} has no executable "
                               "gpool-coordinator")
    path = shutil.which("gpool-coordinator")
    if path is None:
        raise ClusterError("gpool-coordinator is not on PATH and $GPOOL_BIN_DIR is not set: "
                           "build it (scripts/run-seed.sh, or ninja -C build) and set "
                           "GPOOL_BIN_DIR=build/bin, or pass Pool(address=HOST:PORT)")
    return path


def _caller_modules():
    """The main script (if any) and the modules of this process's @gpool.function ones."""
    main = sys.modules.get("__main__")
    main_path = getattr(main, "__file__", None)
    # gpool's own modules (the built-ins, gpool.python's call_batch) every worker has.
    modules = sorted({func.__module__ for func in registry.registered().values()
                      if func.__module__ != "__main__" and
                      not func.__module__.startswith("gpool.")})
    return main_path, modules


class LocalCluster:
    def __init__(self, processes, credentials=None):
        self.processes = processes
        self.credentials = credentials or ""
        self.scratch = tempfile.mkdtemp(prefix="gpool-pool-")
        self._children = []  # (label, Popen)
        self.address = None

    def _start(self, label, argv, stdout, env=None):
        log_path = os.path.join(self.scratch, f"{label}.log")
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                       stdout=stdout if stdout is not None else log_file,
                                       stderr=log_file, env=env,
                                       preexec_fn=_die_with_parent(os.getpid()))
        self._children.append((label, process))
        return process

    def log_tail(self, label, lines=20):
        try:
            with open(os.path.join(self.scratch, f"{label}.log"), errors="replace") as file:
                return "\n".join(file.read().splitlines()[-lines:])
        except OSError:
            return ""

    def start(self):
        credentials_flags = [f"--credentials={self.credentials}"] if self.credentials else []
        port_file = os.path.join(self.scratch, "coordinator.port")
        coordinator = self._start("coordinator", [
            find_coordinator(), "--listen=127.0.0.1:0", f"--port_file={port_file}",
            "--log_level=warning", *credentials_flags], stdout=None)
        # The workers start beside the coordinator and read its port from the file: their
        # Python start-up (importing grpc) overlaps the coordinator's.
        main_path, modules = _caller_modules()
        worker_argv = [sys.executable, "-m", "gpool.worker", f"--coordinator_port_file={port_file}",
                       "--slots=1", "--log_level=warning", *credentials_flags]
        if main_path:
            worker_argv.append(f"--main={main_path}")
        worker_argv += [f"--import={module}" for module in modules]
        environment_path = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ)
        # The workers import this very gpool package, installed or not.
        env["PYTHONPATH"] = os.pathsep.join(
            [environment_path] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        # As multiprocessing's spawn: the workers see the caller's command line and path.
        env[registry.MAIN_ARGV_ENV] = json.dumps(sys.argv)
        env[registry.SYS_PATH_ENV] = json.dumps([os.path.abspath(entry or os.curdir)
                                                 for entry in sys.path])
        for index in range(self.processes):
            # stdout is the caller's, as multiprocessing's workers share it: a function's
            # print() shows where the user looks.
            self._start(f"worker-{index}", worker_argv, env=env, stdout=sys.stdout.fileno()
                        if _has_fileno(sys.stdout) else None)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if os.path.exists(port_file):
                with open(port_file) as file:
                    text = file.read()
                if text.endswith("\n"):
                    break
            if coordinator.poll() is not None:
                raise ClusterError(f"gpool-coordinator exited with {coordinator.returncode}:\n"
                                   f"{self.log_tail('coordinator')}")
            if time.monotonic() > deadline:
                raise ClusterError(f"gpool-coordinator wrote no port within "
                                   f"{STARTUP_TIMEOUT_S}s")
            time.sleep(0.005)
        self.address = f"127.0.0.1:{int(text)}"
        return self.address

    def check_alive(self):
        """Raises ClusterError naming a daemon that exited (with its log's tail)."""
        for label, process in self._children:
            if process.poll() is not None:
                raise ClusterError(f"{label} of the private cluster exited with "
                                   f"{process.returncode}:\n{self.log_tail(label)}")

    def stop(self):
        for _, process in self._children:
            if process.poll() is None:
                process.kill()
        for _, process in self._children:
            process.wait()
        self._children = []
        shutil.rmtree(self.scratch, ignore_errors=True)


def _has_fileno(stream):
    try:
        stream.fileno()
        return True
    except (AttributeError, OSError, ValueError):
        return False
