#!/usr/bin/python3
"""A gpool client in Python, written only against proto/gpool.proto.

Runs a map job on a running cluster through the streaming Map RPC, checks the stream (one
JobStarted, each chunk index exactly once, then JobFinished), reduces the chunk summaries
exactly and prints what the C++ CLI prints:

    $ /usr/bin/python3 client.py --coordinator 127.0.0.1:50051
    Number of cores available equals 4
    The sum of the square of the first 5000 integers is 41679167500

Elements are typed (gpool.proto, Elements): --list takes int64s, or with --type double or
string, doubles or strings. A double result's sum is the exact sum correctly rounded (as
math.fsum gives it), whatever the chunking; string and bytes results have no sum, and --print
writes every value in input order (strings as lines, bytes as lowercase hex):

    $ /usr/bin/python3 client.py --function upper --type string --list gpool,map --print
    Number of cores available equals 4
    GPOOL
    MAP

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
from gpool import elements  # noqa: E402  (gpool_common put the package on the path)

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
    parser.add_argument("--type", choices=("int64", "double", "string"), default="int64",
                        help="the type of the --list values (default int64)")
    parser.add_argument("--print", action="store_true",
                        help="print every result in input order (implies "
                             "--result_mode=values); for string and bytes results, which "
                             "have no sum, instead of the sum line")
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
    if args.type != "int64" and args.list is None:
        fail(PROGRAM, f"--type {args.type} needs --list (a range is int64)", EXIT_BAD_INPUT)
    if args.print:
        args.result_mode = "values"
    return args


class JobInput:
    """The job's elements: a range travels as bounds, a list as values (never expanded)."""

    def __init__(self, range_bounds=None, values=None, element_type=elements.INT64):
        self.range_bounds = range_bounds
        self.values = values
        self.element_type = element_type

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
            elements.fill(message.list, self.element_type, self.values)

    def describe(self):
        """The words the C++ CLI uses for the input in its sum line."""
        if self.range_bounds is not None:
            start, end = self.range_bounds
            if start == 1:
                return f"the first {end} integer{'' if end == 1 else 's'}"
            return f"the integers from {start} to {end}"
        count = len(self.values)
        noun = {elements.INT64: "integer", elements.DOUBLE: "double",
                elements.STRING: "string"}[self.element_type]
        return f"the {count} given {noun}{'' if count == 1 else 's'}"


def job_input_from_args(args):
    try:
        if args.list is not None:
            texts = args.list.split(",")
            if args.type == elements.STRING:
                return JobInput(values=texts, element_type=elements.STRING)
            if args.type == elements.DOUBLE:
                return JobInput(values=[float(text) for text in texts],
                                element_type=elements.DOUBLE)
            values = [int(text) for text in texts]
            for value in values:
                if not gpool_common.INT64_MIN <= value <= gpool_common.INT64_MAX:
                    raise ValueError(f"value {value} does not fit in a signed 64-bit integer")
            return JobInput(values=values)
        return JobInput(range_bounds=gpool_common.parse_range(args.range or "1..5000"))
    except ValueError as error:
        fail(PROGRAM, str(error), EXIT_BAD_INPUT)


class Reducer:
    """Checks the Map stream against the proto's rules and reduces the chunks exactly.

    Python ints are unbounded, so the sums are exact whatever their size: an int64 chunk's
    sum arrives as Int128, a double chunk's as the exact sum of its finite values in units
    of 2^-1074 (DoubleSummary), which add up to the same total in any order.
    """

    def __init__(self, job_input, want_values, keep_values=False):
        self.job_input = job_input
        self.want_values = want_values
        self.keep_values = keep_values
        self.values = {}  # first_element -> the chunk's values, with keep_values
        self.started = None
        self.output_type = None
        self.seen_chunks = set()
        self.elements_done = 0
        self.total = 0  # int64: the sum; double: the finite values' sum in 2^-1074 units
        self.nonfinite = 0.0
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
        try:
            self.output_type = elements.parse_type(started.output_type)
        except ValueError:
            raise ProtocolError(f"JobStarted.output_type {started.output_type} is not an "
                                "element type") from None
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
        worker = f"worker {chunk.worker.worker_id} ({chunk.worker.host}/{chunk.worker.pid})"
        summary_kind = chunk.summary.WhichOneof("kind")
        expected_kind = {elements.INT64: "int64_summary",
                         elements.DOUBLE: "double_summary"}.get(self.output_type)
        if summary_kind != expected_kind:
            raise ProtocolError(f"chunk {index} from {worker} carries a {summary_kind} "
                                f"summary for {self.output_type} results")
        if self.want_values:
            # The coordinator checked these; a client that checks again never prints a sum a
            # garbled chunk made.
            value_type, values = elements.values_of(chunk.values)
            if len(values) != chunk.element_count:
                raise ProtocolError(f"chunk {index} from {worker} carries {len(values)} "
                                    f"values for {chunk.element_count} elements")
            if value_type != self.output_type:
                raise ProtocolError(f"chunk {index} from {worker} carries {value_type} "
                                    f"values; the function returns {self.output_type}")
            if not elements.summary_agrees(chunk.summary, value_type, values):
                raise ProtocolError(f"chunk {index} from {worker}: its values disagree with "
                                    f"its summary (sum, min or max)")
            if self.keep_values:
                self.values[first] = list(values)
        if summary_kind == "int64_summary":
            self.total += gpool_common.int128_to_int(chunk.summary.int64_summary.sum)
        elif summary_kind == "double_summary":
            self.total += elements.decode_exact_sum(chunk.summary.double_summary.exact_sum)
            self.nonfinite += chunk.summary.double_summary.nonfinite_sum
        self.elements_done += chunk.element_count

    def sum_text(self):
        """The job's sum as the CLI prints it, or None for string and bytes results."""
        if self.output_type == elements.INT64:
            return str(self.total)
        if self.output_type == elements.DOUBLE:
            return repr(elements.exact_sum_to_double(self.total, self.nonfinite))
        return None

    def values_in_order(self):
        for first in sorted(self.values):
            yield from self.values[first]

    def on_finished(self, finished):
        if self.started is None:
            raise ProtocolError("JobFinished arrived before JobStarted")
        if self.finished is not None:
            raise ProtocolError("a second JobFinished arrived")
        missing = self.started.num_chunks - len(self.seen_chunks)
        if missing:
            raise ProtocolError(f"JobFinished arrived with {missing} chunk(s) missing")
        self.finished = finished


def value_line(value):
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float):
        return repr(value)
    return str(value)


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

    reducer = Reducer(job_input, want_values, keep_values=args.print)
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

    if args.print:
        for value in reducer.values_in_order():
            print(value_line(value))
    total = reducer.sum_text()
    if total is not None:
        print(f"The sum of the {args.function} of {job_input.describe()} is {total}",
              flush=True)
    elif not args.print:
        print(f"{PROGRAM}: {args.function} returns {reducer.output_type}, which has no sum: "
              "pass --print to see the results", file=sys.stderr)
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
