#!/usr/bin/python3
"""A gpool client in Python, written only against proto/gpool.proto.

Runs a map job on a running cluster through the streaming Map RPC, checks the stream (one
JobStarted, each chunk index exactly once, then JobFinished), reduces the chunk sums exactly
and prints what the C++ CLI prints:

    $ /usr/bin/python3 client.py --coordinator 127.0.0.1:50051
    Number of cores available equals 4
    The sum of the square of the first 5000 integers is 41679167500

Exit codes (the CLI's): 0 ok, 1 the job failed on the cluster or the stream broke the
protocol, 2 bad usage or input, 3 coordinator unreachable, no worker offering the function, or
deadline.
"""

import argparse
import os
import socket
import sys

import gpool_common
from gpool_common import EXIT_BAD_INPUT, EXIT_JOB_FAILED, EXIT_OK, EXIT_UNAVAILABLE, fail

PROGRAM = "client.py"


class ProtocolError(Exception):
    """The coordinator's stream broke a rule the proto states."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Run a gpool map job from Python and print its exact sum.",
        epilog="Negative ranges need '=': --range=-5..5.")
    parser.add_argument("--coordinator", default=os.environ.get("GPOOL_COORDINATOR", ""),
                        help="HOST:PORT of the coordinator (default: $GPOOL_COORDINATOR)")
    parser.add_argument("--function", default="square", help="function to map (default: square)")
    inputs = parser.add_mutually_exclusive_group()
    inputs.add_argument("--range", default=None,
                        help="inclusive range A..B to map over (default: 1..5000)")
    inputs.add_argument("--list", default=None,
                        help="comma-separated values to map over instead, e.g. 3,-7,12")
    parser.add_argument("--chunksize", type=int, default=0,
                        help="elements per chunk; 0 = Pool's rule ceil(len / (4 * slots))")
    parser.add_argument("--processes", type=int, default=0,
                        help="at most this many workers compute the job; 0 = all")
    parser.add_argument("--verify", type=float, default=0.0,
                        help="fraction of chunks (0 to 1) computed again on another worker and "
                             "used only once two workers agree (MapRequest.verify_fraction)")
    parser.add_argument("--result_mode", choices=("sum", "values"), default="sum",
                        help="sum: workers send partial sums only (the combiner); values: "
                             "every value travels and the client checks it against the sum")
    parser.add_argument("--trace", action="store_true",
                        help="print 'Worker <PID> calculating <function> of <x>' per element")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="deadline of the whole job in seconds; passing it cancels the job")
    parser.add_argument("--connect_timeout", type=float, default=5.0,
                        help="seconds to wait for the coordinator to answer")
    parser.add_argument("--credentials", default="",
                        help="directory of TLS credentials (gpool init DIR): mutual TLS with "
                             "its client certificate (default: $GPOOL_CREDENTIALS)")
    parser.add_argument("--stubs", default=None,
                        help="directory written by generate_stubs.sh (default: $GPOOL_PY_STUBS "
                             "or ./generated next to this script)")
    args = parser.parse_args(argv)
    if not args.coordinator:
        fail(PROGRAM, "no coordinator: pass --coordinator HOST:PORT or set GPOOL_COORDINATOR",
             EXIT_BAD_INPUT)
    if args.chunksize < 0 or args.processes < 0:
        fail(PROGRAM, "--chunksize and --processes must be >= 0", EXIT_BAD_INPUT)
    if args.timeout <= 0 or args.connect_timeout <= 0:
        fail(PROGRAM, "--timeout and --connect_timeout must be positive", EXIT_BAD_INPUT)
    return args


class JobInput:
    """The job's elements: a range travels as bounds, a list as values (never expanded)."""

    def __init__(self, range_bounds=None, values=None):
        self.range_bounds = range_bounds
        self.values = values

    def __len__(self):
        if self.range_bounds is not None:
            return self.range_bounds[1] - self.range_bounds[0] + 1
        return len(self.values)

    def at(self, position):
        if self.range_bounds is not None:
            return self.range_bounds[0] + position
        return self.values[position]

    def fill(self, pb2, message):
        if self.range_bounds is not None:
            message.range.start, message.range.end = self.range_bounds
        else:
            message.list.values.extend(self.values)

    def describe(self):
        """The words the C++ CLI uses for the input in its sum line."""
        if self.range_bounds is not None:
            start, end = self.range_bounds
            if start == 1:
                return f"the first {end} integer{'' if end == 1 else 's'}"
            return f"the integers from {start} to {end}"
        count = len(self.values)
        return f"the {count} given integer{'' if count == 1 else 's'}"


def job_input_from_args(args):
    try:
        if args.list is not None:
            values = [int(text) for text in args.list.split(",")]
            for value in values:
                if not gpool_common.INT64_MIN <= value <= gpool_common.INT64_MAX:
                    raise ValueError(f"value {value} does not fit in a signed 64-bit integer")
            return JobInput(values=values)
        return JobInput(range_bounds=gpool_common.parse_range(args.range or "1..5000"))
    except ValueError as error:
        fail(PROGRAM, str(error), EXIT_BAD_INPUT)


class Reducer:
    """Checks the Map stream against the proto's rules and sums the chunks exactly.

    Python ints are unbounded, so the sum is exact whatever its size; the per-chunk sums
    arrive as Int128, which is what the workers' accumulators hold.
    """

    def __init__(self, job_input, want_values):
        self.job_input = job_input
        self.want_values = want_values
        self.started = None
        self.seen_chunks = set()
        self.elements_done = 0
        self.total = 0
        self.finished = None

    def on_started(self, started):
        if self.started is not None:
            raise ProtocolError("a second JobStarted arrived")
        if self.finished is not None:
            raise ProtocolError("JobStarted arrived after JobFinished")
        if started.total_elements != len(self.job_input):
            raise ProtocolError(f"JobStarted.total_elements is {started.total_elements}, "
                                f"the input has {len(self.job_input)} elements")
        if started.chunk_size < 1 or started.num_chunks != -(-started.total_elements //
                                                              started.chunk_size):
            raise ProtocolError(f"JobStarted plans {started.num_chunks} chunks of "
                                f"{started.chunk_size} for {started.total_elements} elements")
        self.started = started

    def on_chunk(self, chunk):
        if self.started is None:
            raise ProtocolError("a ChunkResult arrived before JobStarted")
        if self.finished is not None:
            raise ProtocolError("a ChunkResult arrived after JobFinished")
        index = chunk.chunk_index
        if not 0 <= index < self.started.num_chunks:
            raise ProtocolError(f"chunk index {index} is outside 0..{self.started.num_chunks - 1}")
        if index in self.seen_chunks:
            raise ProtocolError(f"chunk {index} arrived twice")
        self.seen_chunks.add(index)
        first = index * self.started.chunk_size
        expected_count = min(self.started.chunk_size, self.started.total_elements - first)
        if chunk.first_element != first or chunk.element_count != expected_count:
            raise ProtocolError(f"chunk {index} covers elements {chunk.first_element}.."
                                f"+{chunk.element_count}, expected {first}..+{expected_count}")
        partial_sum = gpool_common.int128_to_int(chunk.partial_sum)
        if self.want_values:
            # The coordinator checked these; a client that checks again never prints a sum a
            # garbled chunk made.
            worker = f"worker {chunk.worker.worker_id} ({chunk.worker.host}/{chunk.worker.pid})"
            if len(chunk.values) != chunk.element_count:
                raise ProtocolError(f"chunk {index} from {worker} carries {len(chunk.values)} "
                                    f"values for {chunk.element_count} elements")
            if sum(chunk.values) != partial_sum:
                raise ProtocolError(f"chunk {index} from {worker}: its values sum to "
                                    f"{sum(chunk.values)}, its partial_sum says {partial_sum}")
            if (min(chunk.values), max(chunk.values)) != (chunk.partial_min, chunk.partial_max):
                raise ProtocolError(f"chunk {index} from {worker}: its values range over "
                                    f"{min(chunk.values)}..{max(chunk.values)}, its partial "
                                    f"min and max say {chunk.partial_min}..{chunk.partial_max}")
        self.elements_done += chunk.element_count
        self.total += partial_sum

    def on_finished(self, finished):
        if self.started is None:
            raise ProtocolError("JobFinished arrived before JobStarted")
        if self.finished is not None:
            raise ProtocolError("a second JobFinished arrived")
        missing = self.started.num_chunks - len(self.seen_chunks)
        if missing:
            raise ProtocolError(f"JobFinished arrived with {missing} chunk(s) missing")
        self.finished = finished


def trace_lines(function, job_input, chunk, local_host):
    where = "" if chunk.worker.host == local_host else f"@{chunk.worker.host}"
    for position in range(chunk.first_element, chunk.first_element + chunk.element_count):
        yield f"Worker {chunk.worker.pid}{where} calculating {function} of {job_input.at(position)}"


def run(args):
    grpc, pb2, pb2_grpc = gpool_common.load_stubs(PROGRAM, args.stubs)
    job_input = job_input_from_args(args)
    want_values = args.result_mode == "values"

    credentials_dir = gpool_common.credentials_directory(args.credentials)
    try:
        channel = gpool_common.open_channel(grpc, args.coordinator, credentials_dir, "client")
    except OSError as error:
        fail(PROGRAM, f"--credentials {credentials_dir}: {error}; create the directory with "
                      f"'gpool init {credentials_dir}'", EXIT_BAD_INPUT)
    try:
        # Fail fast on a wrong address instead of spending the whole job deadline on it.
        grpc.channel_ready_future(channel).result(timeout=args.connect_timeout)
    except grpc.FutureTimeoutError:
        fail(PROGRAM, f"cannot reach the coordinator at {args.coordinator} within "
                      f"{args.connect_timeout:g}s: check that it is running, that the "
                      f"address and port are right, and that --credentials matches the "
                      f"cluster's (a TLS cluster needs its CA's client certificate)",
             EXIT_UNAVAILABLE)

    request = pb2.MapRequest(
        function=args.function, chunk_size=args.chunksize, max_workers=args.processes,
        verify_fraction=args.verify,
        result_mode=pb2.RESULT_MODE_VALUES if want_values else pb2.RESULT_MODE_SUM)
    job_input.fill(pb2, request.input)

    reducer = Reducer(job_input, want_values)
    local_host = socket.gethostname()
    stub = pb2_grpc.CoordinatorStub(channel)
    # The deadline covers the whole job; passing it cancels the job on the coordinator.
    responses = stub.Map(request, timeout=args.timeout)
    try:
        # One message may carry the job's start, results and end (a short job is often a
        # single message): they are taken in that order.
        for response in responses:
            if response.HasField("started"):
                reducer.on_started(response.started)
                print(f"Number of cores available equals {response.started.cluster_slots}",
                      flush=True)
            for chunk in response.results:
                reducer.on_chunk(chunk)
                if args.trace:
                    print("\n".join(trace_lines(args.function, job_input, chunk, local_host)))
            if response.HasField("finished"):
                reducer.on_finished(response.finished)
    except grpc.RpcError as error:
        fail(PROGRAM, f"{error.details()} ({error.code().name})",
             gpool_common.status_exit_code(grpc, error.code()))
    except ProtocolError as error:
        responses.cancel()  # Stop the job: its result cannot be trusted.
        fail(PROGRAM, f"protocol violation from {args.coordinator}: {error}", EXIT_JOB_FAILED)
    finally:
        channel.close()
    if reducer.finished is None:
        fail(PROGRAM, "the Map stream ended with OK status but without JobFinished",
             EXIT_JOB_FAILED)

    print(f"The sum of the {args.function} of {job_input.describe()} is {reducer.total}",
          flush=True)
    stats = reducer.finished.stats
    if stats.retries or stats.workers_lost or stats.backups or stats.chunks_verified:
        print(f"{PROGRAM}: {reducer.started.job_id}: {stats.retries} retries, "
              f"{stats.workers_lost} workers lost, {stats.backups} backups, "
              f"{stats.duplicates_dropped} duplicates dropped, "
              f"{stats.chunks_verified} chunks verified, "
              f"{stats.verification_mismatches} mismatches", file=sys.stderr)
    return EXIT_OK


def main(argv):
    try:
        return run(parse_args(argv))
    except KeyboardInterrupt:
        # Closing the channel on the way out cancelled the call, hence the job.
        fail(PROGRAM, "interrupted; the job was cancelled", EXIT_JOB_FAILED)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
