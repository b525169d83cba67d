"""A gpool worker that serves Python functions: python3 -m gpool.worker.

    python3 -m gpool.worker --coordinator HOST:PORT [--slots N] [--credentials DIR]
                            [--main SCRIPT] [--import MODULE ...]

It serves the Worker service, registers with the coordinator, keeps its lease alive and
computes the chunks it is sent, beside C++ workers, speaking only proto/gpool.proto.

Functions (gpool.registry), each advertised with its element types: the built-ins square and
identity (int64 -> int64) and gpool.python.call_batch (bytes -> bytes: the Pool's lambdas,
closures and other callables, sent by value); every @gpool.function of the modules it
imports, with its declared types; the module-level functions of --main SCRIPT (as
"__main__.<name>") and of each --import MODULE (as "MODULE.<name>"), int64 -> int64. Inputs
are converted as the protocol says (int64 elements of a double function as floats, strings of
a bytes function as their UTF-8), results checked against the output type, and numeric
results summarized exactly (gpool/chunk_work.py). An exception in a function fails the job
on the caller with that exception (gpool.errors); it is not retried.

SIGTERM or SIGINT stops it: running chunks get a few seconds to finish (the coordinator
re-dispatches any that do not), then it exits 0.

Exit codes: 0 clean shutdown, 1 could not start (bad flag, cannot listen, missing stubs),
2 unreadable credentials.
"""

import argparse
import concurrent.futures
import logging
import os
import random
import signal
import socket
import sys
import threading
import time

from gpool import _common as gpool_common
from gpool import chunk_work, elements, registry
from gpool._stubs import StubsError, load as load_stubs

PROGRAM = "gpool.worker"

# How long one RegisterWorker call may take before it counts as failed and is retried.
REGISTER_TIMEOUT_S = 5.0
# Re-registration backoff: initial delay, growth per failure, cap, and +-jitter fraction, so
# a fleet of workers that lost their coordinator does not come back in lockstep.
BACKOFF_INITIAL_S = 0.1
BACKOFF_MULTIPLIER = 2.0
BACKOFF_MAX_S = 5.0
BACKOFF_JITTER = 0.2
# The cap while the coordinator cannot be reached at all (UNAVAILABLE, DEADLINE_EXCEEDED): a
# restarted coordinator is then found within about this long of its start.
BACKOFF_UNREACHABLE_MAX_S = 0.5
# Running chunks get this long to finish on SIGTERM.
SHUTDOWN_GRACE_S = 5.0
# The protocol's bound on RegisterWorkerRequest.max_chunks_per_call.
MAX_CHUNKS_PER_CALL = 16384
# gRPC threads beyond the slots: calls waiting for a slot (the coordinator pipelines a chunk
# or so per worker) must not block the server from accepting the next one.
EXTRA_SERVER_THREADS = 8

log = logging.getLogger("python-worker")


def backoff_delay(failures, rng, unreachable=False):
    cap = BACKOFF_UNREACHABLE_MAX_S if unreachable else BACKOFF_MAX_S
    base = min(BACKOFF_INITIAL_S * BACKOFF_MULTIPLIER ** failures, cap)
    return base * rng.uniform(1.0 - BACKOFF_JITTER, 1.0 + BACKOFF_JITTER)


def must_register_again(registered_with, answered_by):
    """Whether a heartbeat answered by coordinator incarnation `answered_by` means the
    registration made by `registered_with` is gone (another coordinator process: a restart).
    0 is "not sent" and compares with nothing."""
    return registered_with != 0 and answered_by != 0 and registered_with != answered_by


def make_servicer_class(grpc, pb2, pb2_grpc, functions):
    """Builds the Worker servicer against the loaded stubs (they are imported at run time)."""

    def abort(context, code_name, message):
        context.abort(getattr(grpc.StatusCode, code_name), message)

    class WorkerServicer(pb2_grpc.WorkerServicer):
        """Runs chunks; at most `slots` calls at once, later calls wait for a free slot.

        Thread-safe: gRPC calls RunChunks from its thread pool.
        """

        def __init__(self, slots, max_chunks_per_call, secure, incarnation):
            self._secure = secure
            self._incarnation = incarnation
            self._slots = threading.BoundedSemaphore(slots)
            self._max_chunks_per_call = max_chunks_per_call
            self._lock = threading.Lock()
            self.chunks_completed = 0

        def ConfirmIncarnation(self, request, context):
            # The coordinator asks whether this process is still the worker registered at
            # this address before it lets another registration take the address. Only a
            # yes or a no: the incarnation is a secret.
            if self._secure and "coordinator" not in gpool_common.peer_roles(context):
                roles = ",".join(sorted(gpool_common.peer_roles(context))) or "none"
                context.abort(grpc.StatusCode.PERMISSION_DENIED,
                              f"role {roles} may not call gpool.v1.Worker/ConfirmIncarnation")
            return pb2.ConfirmIncarnationResponse(
                matches=request.incarnation == self._incarnation)

        def RunChunks(self, request, context):
            # Over TLS, only the coordinator's certificate may run chunks (as the C++
            # worker's check in rpc/roles.cc).
            if self._secure and "coordinator" not in gpool_common.peer_roles(context):
                roles = ",".join(sorted(gpool_common.peer_roles(context))) or "none"
                context.abort(grpc.StatusCode.PERMISSION_DENIED,
                              f"role {roles} may not call gpool.v1.Worker/RunChunks")
            function = functions.get(request.function)
            if function is None:
                context.abort(grpc.StatusCode.NOT_FOUND,
                              f"unknown function '{request.function}'; available: "
                              f"{', '.join(sorted(functions))}")
            if not 1 <= len(request.chunks) <= self._max_chunks_per_call:
                # This worker cannot take the call as sent: the coordinator counts it as this
                # worker's fault and moves the chunks; the job does not fail.
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              f"a RunChunks call must carry 1 to {self._max_chunks_per_call} "
                              f"chunks (this worker's max_chunks_per_call), got "
                              f"{len(request.chunks)}")
            signature = registry.signature_of(function)
            inputs = [self._elements(request.function, signature, chunk, context)
                      for chunk in request.chunks]
            want_values = request.result_mode != pb2.RESULT_MODE_SUM

            # The chunks of a call run one after another in one slot, as the C++ worker runs
            # them; the first that fails fails the call.
            self._acquire_slot(context)
            try:
                results = [chunk_work.compute(request.function, function, signature, chunk,
                                              elements_in, want_values, context, abort)
                           for chunk, elements_in in zip(request.chunks, inputs)]
            finally:
                self._slots.release()

            # The coordinator and clients check the values against the count and summary.
            output_type = signature[1]
            response = pb2.RunChunksResponse()
            for elements_in, (values, summary) in zip(inputs, results):
                outcome = response.results.add(element_count=len(elements_in),
                                               pid=os.getpid())
                if want_values:
                    elements.fill(outcome.values, output_type, values)
                summary.fill(outcome.summary)
            with self._lock:
                self.chunks_completed += len(inputs)
            log.debug("%d chunk(s) of %s (first %d, attempt %d) done", len(inputs),
                      request.job_id, request.chunks[0].chunk_index, request.chunks[0].attempt)
            return response

        @staticmethod
        def _elements(name, signature, chunk, context):
            """The chunk's input as a sequence of the function's input type (int64 elements
            of a double function as floats, strings of a bytes function as their UTF-8);
            INVALID_ARGUMENT when it is malformed or of a type the function does not take."""
            kind = chunk.input.WhichOneof("kind")
            if kind is None:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"chunk {chunk.chunk_index}: the chunk has no input")
            if kind == "list":
                element_type, values = elements.values_of(chunk.input.list)
                if element_type is None or not values:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                  f"chunk {chunk.chunk_index}: the input list is empty")
            else:
                start, end = chunk.input.range.start, chunk.input.range.end
                if start > end:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                  f"chunk {chunk.chunk_index}: range {start}..{end} is "
                                  f"empty: start must be <= end")
                element_type, values = elements.INT64, range(start, end + 1)
            input_type = signature[0]
            if not elements.accepts(input_type, element_type):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"function '{name}' takes {input_type} elements; chunk "
                              f"{chunk.chunk_index} holds {element_type} elements")
            if input_type == element_type:
                return values
            # Converted a block at a time as the chunk runs (a range stays two numbers).
            return chunk_work.Converted(values, float if input_type == elements.DOUBLE
                                        else chunk_work.utf8)

        def _acquire_slot(self, context):
            # Wait in short steps so a call the coordinator cancelled gives up its place
            # instead of holding a thread until its deadline.
            while not self._slots.acquire(timeout=0.2):
                if not context.is_active():
                    context.abort(grpc.StatusCode.CANCELLED,
                                  "chunk cancelled while waiting for a slot")

    return WorkerServicer


class RegistrationLoop:
    """Registers, heartbeats, and registers again at once when the coordinator forgets the
    worker (NOT_FOUND) or answers as another coordinator process (a restart).

    Runs on its own thread until stop() is called. Every RPC carries a deadline.
    """

    def __init__(self, grpc, pb2, pb2_grpc, coordinator, credentials_dir, registration,
                 on_refused=None):
        self._on_refused = on_refused
        self._grpc = grpc
        self._pb2 = pb2
        self._channel = gpool_common.open_channel(grpc, coordinator, credentials_dir, "worker")
        self._stub = pb2_grpc.CoordinatorStub(self._channel)
        self._registration = registration
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="registration")
        self._rng = random.Random(registration.incarnation)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._channel.close()

    def _loop(self):
        grpc = self._grpc
        failures = 0
        worker_id = ""
        # The coordinator process that made the registration (0: it did not say).
        registered_with = 0
        # The interval granted last (at registration, then by heartbeats), which every beat
        # reports, and the wait until the next beat: the interval, except right after a new
        # grant.
        interval_ms = 0
        wait_s = 0.0
        while not self._stop.is_set():
            if not worker_id:
                try:
                    grant = self._stub.RegisterWorker(self._registration,
                                                      timeout=REGISTER_TIMEOUT_S)
                except grpc.RpcError as error:
                    if error.code() == grpc.StatusCode.FAILED_PRECONDITION:
                        # A function declared with other types than a registered worker
                        # offers it: no use until that worker leaves, so slowly and loudly.
                        log.error("registration refused: %s", error.details())
                        failures = max(failures, 6)
                    if error.code() == grpc.StatusCode.ALREADY_EXISTS:
                        # Another live worker answers at this worker's address: retrying
                        # cannot help while it lives.
                        log.error("registration refused: %s", error.details())
                        if self._on_refused:
                            self._on_refused()
                        return
                    unreachable = error.code() in (grpc.StatusCode.UNAVAILABLE,
                                                   grpc.StatusCode.DEADLINE_EXCEEDED)
                    delay = backoff_delay(failures, self._rng, unreachable)
                    failures += 1
                    # The first failures are normal while a coordinator starts.
                    (log.warning if failures > 3 else log.debug)(
                        "registration failed (%s: %s); retrying in %.2fs",
                        error.code().name, error.details(), delay)
                    self._stop.wait(delay)
                    continue
                failures = 0
                worker_id = grant.worker_id
                registered_with = grant.coordinator_incarnation
                interval_ms = grant.heartbeat_interval_ms
                wait_s = interval_ms / 1000.0
                log.info("registered as %s (heartbeat every %gs, lease %gs; coordinator %016x)",
                         worker_id, interval_ms / 1000.0, grant.lease_timeout_ms / 1000.0,
                         registered_with)
                continue
            if self._stop.wait(wait_s):
                break
            wait_s = interval_ms / 1000.0
            try:
                # A heartbeat slower than its interval is as good as lost; the next one
                # follows right away.
                grant = self._stub.Heartbeat(
                    self._pb2.HeartbeatRequest(worker_id=worker_id,
                                               incarnation=self._registration.incarnation,
                                               heartbeat_interval_ms=interval_ms),
                    timeout=max(interval_ms / 1000.0, 0.5))
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND:
                    log.warning("the coordinator no longer knows %s (%s); registering again",
                                worker_id, error.details())
                    worker_id = ""
                else:
                    # Keep heartbeating: if the silence outlasts the lease, the coordinator
                    # answers NOT_FOUND once reachable again, and we register anew.
                    log.debug("heartbeat failed (%s: %s)", error.code().name, error.details())
                continue
            if must_register_again(registered_with, grant.coordinator_incarnation):
                log.warning("the coordinator restarted (incarnation %016x is now %016x); "
                            "registering %s again", registered_with,
                            grant.coordinator_incarnation, worker_id)
                worker_id = ""
                continue
            if grant.heartbeat_interval_ms != interval_ms:
                log.info("the coordinator asks for a heartbeat every %gs (was %gs; lease %gs)",
                         grant.heartbeat_interval_ms / 1000.0, interval_ms / 1000.0,
                         grant.lease_timeout_ms / 1000.0)
                # The coordinator keeps the lease of the old interval until a beat reports the
                # new one: that beat comes no later than either interval would bring it.
                wait_s = min(interval_ms, grant.heartbeat_interval_ms) / 1000.0
                interval_ms = grant.heartbeat_interval_ms


def fail(message, exit_code):
    print(f"{PROGRAM}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(exit_code)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="A gpool worker that serves Python functions.")
    parser.add_argument("--coordinator", default=os.environ.get("GPOOL_COORDINATOR", ""),
                        help="HOST:PORT of the coordinator (default: $GPOOL_COORDINATOR)")
    parser.add_argument("--listen", default="127.0.0.1:0",
                        help="HOST:PORT to serve chunks on; port 0 picks a free port")
    parser.add_argument("--advertise_host", default="",
                        help="host the coordinator should dial (default: the --listen host, "
                             "or this machine's name when listening on all interfaces)")
    parser.add_argument("--slots", type=int, default=1, help="chunks computed at once")
    parser.add_argument("--max_chunks_per_call", type=int, default=1024,
                        help="most chunks the coordinator may send in one call, 1 to "
                             f"{MAX_CHUNKS_PER_CALL}; 1: one chunk per call")
    parser.add_argument("--port_file", default="",
                        help="if set, write the bound port to this file (one line) once serving")
    parser.add_argument("--log_level", default="info",
                        choices=("debug", "info", "warning", "error"))
    parser.add_argument("--credentials", default="",
                        help="directory of TLS credentials (gpool init DIR): mutual TLS with "
                             "its worker certificate, and only the coordinator's may run "
                             "chunks (default: $GPOOL_CREDENTIALS)")
    parser.add_argument("--coordinator_port_file", default="",
                        help="wait (up to --coordinator_port_wait seconds) for the "
                             "coordinator to write its port here, and dial HOST:PORT with "
                             "the --coordinator host (default 127.0.0.1): a private cluster "
                             "starts its workers beside the coordinator, not after it")
    parser.add_argument("--coordinator_port_wait", type=float, default=30.0,
                        help=argparse.SUPPRESS)
    parser.add_argument("--main", default="",
                        help="a script whose module-level functions to offer as "
                             "__main__.<name> (loaded without running its __main__ block)")
    parser.add_argument("--import", dest="modules", action="append", default=[],
                        metavar="MODULE",
                        help="a module whose module-level functions to offer as "
                             "MODULE.<name> (repeatable)")
    args = parser.parse_args(argv)
    if args.coordinator_port_file and not args.coordinator:
        args.coordinator = "127.0.0.1:"  # The port comes from the file.
    if not args.coordinator:
        fail("no coordinator: pass --coordinator HOST:PORT or set GPOOL_COORDINATOR", 1)
    if not 1 <= args.slots <= 4096:
        fail(f"--slots must be 1 to 4096, got {args.slots}", 1)
    if not 1 <= args.max_chunks_per_call <= MAX_CHUNKS_PER_CALL:
        fail(f"--max_chunks_per_call must be 1 to {MAX_CHUNKS_PER_CALL}, "
             f"got {args.max_chunks_per_call}", 1)
    host, separator, port = args.listen.rpartition(":")
    if not separator or not host or not port.isdigit():
        fail(f"--listen '{args.listen}' is not HOST:PORT (e.g. 127.0.0.1:0)", 1)
    return args


def setup_logging(level_name):
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(
        f"%(asctime)s.%(msecs)03dZ %(levelname).1s python-worker {os.getpid()}: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime  # The C++ daemons log in UTC too.
    handler.setFormatter(formatter)
    log.addHandler(handler)
    log.setLevel(level_name.upper())


def _await_port_file(path, timeout_s):
    """The port a daemon wrote to `path` (one line, written atomically), or None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open(path) as file:
                text = file.read()
            if text.endswith("\n"):
                return int(text)
        except FileNotFoundError:
            pass
        time.sleep(0.002)
    return None


def write_file_atomically(path, text):
    # A reader polling for the file never sees it half written.
    temporary = f"{path}.tmp.{os.getpid()}"
    with open(temporary, "w") as file:
        file.write(text)
    os.replace(temporary, path)


def run(args):
    setup_logging(args.log_level)
    try:
        grpc, pb2, pb2_grpc = load_stubs()
    except StubsError as error:
        log.error("%s", error)
        return 1
    return serve(args, grpc, pb2, pb2_grpc,
                 registry.worker_functions(args.main or None, args.modules))


def serve(args, grpc, pb2, pb2_grpc, functions):
    """Serves `functions` (name -> int64 function) until SIGTERM or SIGINT; the exit code."""

    # Block the termination signals before any thread starts so every thread (gRPC's too)
    # inherits the mask, and the main thread alone receives them in sigwait below.
    termination_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, termination_signals)

    credentials_dir = gpool_common.credentials_directory(args.credentials)
    try:
        credentials = (gpool_common.server_credentials(grpc, credentials_dir, "worker")
                       if credentials_dir else None)
    except OSError as error:
        log.error("--credentials %s: %s; create the directory with 'gpool init %s'",
                  credentials_dir, error, credentials_dir)
        return 2
    # The secret that binds heartbeats and leaving to this registration; the servicer only
    # confirms it (ConfirmIncarnation), never reveals it.
    incarnation = random.SystemRandom().getrandbits(64)
    servicer = make_servicer_class(grpc, pb2, pb2_grpc, functions)(args.slots, args.max_chunks_per_call,
                                                         secure=bool(credentials_dir),
                                                         incarnation=incarnation)
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=args.slots + EXTRA_SERVER_THREADS,
                                              thread_name_prefix="chunk"),
        options=gpool_common.CHANNEL_OPTIONS)
    pb2_grpc.add_WorkerServicer_to_server(servicer, server)
    try:
        bound_port = (server.add_secure_port(args.listen, credentials) if credentials
                      else server.add_insecure_port(args.listen))
    except RuntimeError as error:
        bound_port = 0
        log.debug("add_port: %s", error)
    if bound_port == 0:
        log.error("cannot listen on %s", args.listen)
        return 1
    server.start()

    listen_host = args.listen.rpartition(":")[0]
    host_name = socket.gethostname()
    advertise_host = args.advertise_host or (
        host_name if listen_host in ("0.0.0.0", "[::]", "::") else listen_host)
    registration = pb2.RegisterWorkerRequest(
        address=f"{advertise_host}:{bound_port}", pid=os.getpid(), host=host_name,
        slots=args.slots,
        functions=[pb2.FunctionSignature(name=name,
                                         input_type=elements.type_number(signature[0]),
                                         output_type=elements.type_number(signature[1]))
                   for name, signature in sorted((name, registry.signature_of(function))
                                                 for name, function in functions.items())],
        max_chunks_per_call=args.max_chunks_per_call,
        incarnation=incarnation)
    log.info("serving on %s with %d slot(s), functions %s; coordinator %s %s",
             registration.address, args.slots, ",".join(f.name for f in registration.functions),
             args.coordinator, "over mutual TLS" if credentials_dir else "in plain text")
    if args.port_file:
        write_file_atomically(args.port_file, f"{bound_port}\n")

    refused = threading.Event()

    def on_refused():
        refused.set()
        # Wakes the sigwait below (every thread blocks SIGTERM; only it takes the signal).
        os.kill(os.getpid(), signal.SIGTERM)

    if args.coordinator_port_file:
        port = _await_port_file(args.coordinator_port_file, args.coordinator_port_wait)
        if port is None:
            log.error("no port in %s within %gs", args.coordinator_port_file,
                      args.coordinator_port_wait)
            server.stop(grace=0).wait()
            return 1
        args.coordinator = f"{args.coordinator.rpartition(':')[0] or '127.0.0.1'}:{port}"
    registration_loop = RegistrationLoop(grpc, pb2, pb2_grpc, args.coordinator,
                                         credentials_dir, registration, on_refused)
    registration_loop.start()

    received = signal.sigwait(termination_signals)
    if refused.is_set():
        log.error("exiting: another live worker serves at %s", registration.address)
        registration_loop.stop()
        server.stop(grace=0).wait()
        return 1
    log.info("signal %d received; shutting down", received)
    registration_loop.stop()
    # New calls are refused at once; running chunks get the grace period to finish, and
    # the coordinator re-dispatches any that do not.
    server.stop(grace=SHUTDOWN_GRACE_S).wait()
    log.info("stopped after %d chunks", servicer.chunks_completed)
    return 0


def main(argv):
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
