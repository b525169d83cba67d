"""gpool.Pool: multiprocessing.Pool's map family over a gpool cluster.

Each map is one or more Map jobs on the coordinator (a list longer than one request holds is
split into several, one after another); results come back as the Map stream's chunk results,
which imap puts in input order holding only the chunks that arrived early, and
imap_unordered yields as they arrive. A caller that reads slowly slows its job: the
coordinator dispatches no more chunks while the job's result window is full (gpool.proto,
"Flow control"), so nothing here buffers a whole job.

A function travels one of two ways:
  * by name (a str, or an @gpool.function): typed elements, judged from the first element
    (int -> int64, float -> double, str -> string, bytes -> bytes), on any worker that offers
    the name, C++ or Python;
  * by value (any other callable: lambdas, closures, undecorated functions): cloudpickled
    with the arguments of one Pool chunk into one bytes element of a job of
    gpool.python.call_batch (gpool/python.py), which Python workers offer. Arguments and
    results are then any picklable objects, as with multiprocessing.
"""

import functools
import itertools
import os
import pickle
import threading
import weakref

from gpool import _common, elements, errors, registry
from gpool._stubs import load as _load_stubs
from gpool.python import CALL_BATCH, Failure, Oversized, _call, _star

# Numbers of one list job: 8 bytes each (sfixed64, double), 3.2 MB, under the coordinator's
# 4 MiB - 64 KiB request limit (gpool.proto, MapRequest). Longer inputs become several jobs,
# one after another.
MAX_LIST_ELEMENTS = 400_000
# Bytes of the string and bytes elements of one list job, counting each element's tag and
# length (at most 4 bytes for an element of at most 1 MiB).
MAX_LIST_BYTES = 3_500_000
_ELEMENT_OVERHEAD_BYTES = 4
# A callable's arguments read at a time from an iterable without a length (imap over a
# generator), and from one with a length: each such group is mapped with multiprocessing's
# chunk size rule for its length, so that a long map's memory stays bounded.
STREAM_GROUP_ELEMENTS = 10_000
SIZED_GROUP_ELEMENTS = 1_000_000
# Every call carries a deadline; a map has no natural one, so a long one.
JOB_DEADLINE_S = 7 * 24 * 3600.0
# How long Pool(address=...) waits for the coordinator's first answer.
CONNECT_TIMEOUT_S = 10.0

_RUN, _CLOSE, _TERMINATE = "RUN", "CLOSE", "TERMINATE"


def _element_size(value, element_type, position):
    """Bytes a string or bytes element takes; ValueError for a str UTF-8 cannot encode."""
    if element_type == elements.STRING and not value.isascii():
        try:
            return len(value.encode("utf-8"))
        except UnicodeEncodeError as error:
            raise ValueError(f"element {position} is not UTF-8 text (a string element is "
                             f"UTF-8): {error}") from None
    return len(value)


def _check_batch(batch, element_type, first_type, offset):
    """The batch as elements of element_type; TypeError naming the first element of another
    type, OverflowError for an int outside int64, ValueError for one over 1 MiB."""
    exact = {elements.INT64: int, elements.DOUBLE: float, elements.STRING: str,
             elements.BYTES: bytes}[element_type]
    if set(map(type, batch)) == {exact} and (
            element_type != elements.INT64 or
            (_common.INT64_MIN <= min(batch) and max(batch) <= _common.INT64_MAX)):
        return batch
    checked = []
    for position, element in enumerate(batch, offset):
        try:
            if elements.type_of_value(element) != element_type:
                raise TypeError
            checked.append(elements.to_element(element, element_type))
        except TypeError:
            raise TypeError(f"element {position} is a {type(element).__name__}, element 0 a "
                            f"{first_type}: a map's elements are all of one type (int, float, "
                            "str or bytes)") from None
        except OverflowError:
            raise OverflowError(f"element {position} ({element}) does not fit in a signed "
                                "64-bit integer") from None
    return checked


def _job_inputs(pb2, iterable):
    """(Input, element count) per job: a range(...) with step 1 as one Range, anything else
    as typed lists (the type judged from the first element) that fit one request, read from
    the iterable one job at a time."""
    if isinstance(iterable, range) and iterable.step == 1:
        if len(iterable) == 0:
            return
        for bound in (iterable.start, iterable.stop - 1):
            if not _common.INT64_MIN <= bound <= _common.INT64_MAX:
                raise OverflowError(f"range bound {bound} does not fit in a signed 64-bit "
                                    "integer")
        yield pb2.Input(range=pb2.Range(start=iterable.start, end=iterable.stop - 1)), \
            len(iterable)
        return
    iterator = iter(iterable)
    first = next(iterator, _END)
    if first is _END:
        return
    try:
        element_type = elements.type_of_value(first)
    except TypeError as error:
        raise TypeError(f"element 0: {error}") from None
    iterator = itertools.chain([first], iterator)
    sized = element_type in (elements.STRING, elements.BYTES)
    position = 0
    pending = []  # Read but not yet in a job (a string list's job is cut by bytes).
    while True:
        batch = pending + list(itertools.islice(iterator, MAX_LIST_ELEMENTS - len(pending)))
        if not batch:
            return
        batch = _check_batch(batch, element_type, type(first).__name__, position)
        pending = []
        if sized:
            total = 0
            for index, value in enumerate(batch):
                size = _element_size(value, element_type, position + index)
                if size > elements.MAX_ELEMENT_BYTES:
                    raise ValueError(f"element {position + index} is {size} bytes; an "
                                     f"element is at most 1 MiB ({elements.MAX_ELEMENT_BYTES} "
                                     "bytes)")
                total += size + _ELEMENT_OVERHEAD_BYTES
                if total > MAX_LIST_BYTES:
                    batch, pending = batch[:index], batch[index:]
                    break
        message = pb2.Input()
        elements.fill(message.list, element_type, batch)
        yield message, len(batch)
        position += len(batch)


_END = object()


def _pickled_groups(iterable, star):
    """The callable's argument lists, a group at a time: an iterable with a length in groups
    of up to SIZED_GROUP_ELEMENTS (all of it, for most maps: multiprocessing's map reads it
    whole), one without in groups of STREAM_GROUP_ELEMENTS."""
    group_size = SIZED_GROUP_ELEMENTS if hasattr(iterable, "__len__") else \
        STREAM_GROUP_ELEMENTS
    if star:
        iterable = (tuple(arguments) for arguments in iterable)
    iterator = iter(iterable)
    while True:
        group = list(itertools.islice(iterator, group_size))
        if not group:
            return
        yield group


def _pickle_chunks(cloudpickle, func, arguments, chunksize):
    """(payload, arguments) per Pool chunk of `arguments`; a chunk whose pickle is over one
    element's 1 MiB is split until it fits."""
    for start in range(0, len(arguments), chunksize):
        yield from _pickle_chunk(cloudpickle, func, arguments[start:start + chunksize], start)


def _pickle_chunk(cloudpickle, func, arguments, offset):
    payload = cloudpickle.dumps((func, arguments), pickle.HIGHEST_PROTOCOL)
    if len(payload) <= elements.MAX_ELEMENT_BYTES:
        yield payload, arguments
        return
    if len(arguments) == 1:
        raise ValueError(f"argument {offset} pickles (with the function) to {len(payload)} "
                         f"bytes; an element is at most 1 MiB ({elements.MAX_ELEMENT_BYTES} "
                         "bytes)")
    half = len(arguments) // 2
    yield from _pickle_chunk(cloudpickle, func, arguments[:half], offset)
    yield from _pickle_chunk(cloudpickle, func, arguments[half:], offset + half)


def _import_cloudpickle():
    try:
        import cloudpickle
    except ImportError:
        raise ImportError("mapping a Python callable needs cloudpickle: apt-get install "
                          "python3-cloudpickle") from None
    return cloudpickle


def _single_arguments(iterable):
    for position, arguments in enumerate(iterable):
        if len(arguments) != 1:
            raise TypeError(f"starmap: item {position} has {len(arguments)} arguments; a "
                            "named gpool function takes one element (a Python callable takes "
                            "any)")
        yield arguments[0]


def _in_order(chunks):
    """The values of (first_element, values, pid) chunks in input order, holding only the
    chunks that came early."""
    early = {}
    position = 0
    for first, values, _ in chunks:
        early[first] = values
        while position in early:
            values = early.pop(position)
            position += len(values)
            yield from values


def _flatten(batches):
    """The values of lists; closing it closes `batches` (and so cancels its job)."""
    try:
        for values in batches:
            yield from values
    finally:
        batches.close()


def _as_they_come(chunks):
    for _, values, _ in chunks:
        yield from values


class AsyncResult:
    """multiprocessing.pool.AsyncResult: the result of map_async, starmap_async, apply_async."""

    def __init__(self, run, callback=None, error_callback=None):
        self._event = threading.Event()
        self._value = None
        self._error = None

        def target():
            try:
                self._value = run()
            except BaseException as error:  # noqa: B902  (handed to get())
                self._error = error
            self._event.set()
            if self._error is None and callback is not None:
                callback(self._value)
            if self._error is not None and error_callback is not None:
                error_callback(self._error)

        self._thread = threading.Thread(target=target, name="gpool-async", daemon=True)
        self._thread.start()

    def ready(self):
        return self._event.is_set()

    def successful(self):
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return self._error is None

    def wait(self, timeout=None):
        self._event.wait(timeout)

    def get(self, timeout=None):
        if not self._event.wait(timeout):
            raise errors.TimeoutError(f"the result was not ready within {timeout}s")
        if self._error is not None:
            raise self._error
        return self._value


class Pool:
    """A pool of gpool workers, used like multiprocessing.Pool.

    Pool(processes=None, address=None, credentials=None)
      address      HOST:PORT of a coordinator (default $GPOOL_COORDINATOR). Without one, a
                   private local cluster: a coordinator and `processes` Python workers
                   (default: this machine's cores), stopped with the pool.
      processes    with an address: at most this many workers compute each job (MapRequest
                   max_workers); default all.
      credentials  a `gpool init` directory (default $GPOOL_CREDENTIALS): mutual TLS.

    func is a function name (any worker offering it: C++ or Python) or an @gpool.function,
    mapped over typed elements; or any other callable (lambda, closure, function), sent by
    value to the Python workers' gpool.python.call_batch.
    """

    def __init__(self, processes=None, address=None, credentials=None):
        if processes is not None and processes < 1:
            raise ValueError("Number of processes must be at least 1")
        self._state = _RUN
        self._lock = threading.Lock()
        self._calls = set()
        self._async = []
        self._cluster = None
        self._channel = None
        credentials = credentials or os.environ.get("GPOOL_CREDENTIALS", "")
        address = address or os.environ.get("GPOOL_COORDINATOR", "")
        try:
            if not address:
                # Started before grpc is imported here: the daemons' start-up overlaps ours.
                from gpool.local_cluster import LocalCluster
                processes = processes or os.cpu_count() or 1
                self._cluster = LocalCluster(processes, credentials)
                address = self._cluster.start()
            self._grpc, self._pb2, pb2_grpc = _load_stubs()
            self._max_workers = 0 if self._cluster else (processes or 0)
            self._channel = _common.open_channel(self._grpc, address, credentials, "client")
            self._stub = pb2_grpc.CoordinatorStub(self._channel)
            # A private cluster's workers register while the caller goes on: its first job
            # waits for them on the coordinator (--worker_wait), and a worker that could not
            # start shows in that job's error.
            self._processes = processes if self._cluster else self._await_cluster(processes)
        except BaseException:
            self._shutdown()
            raise
        self.address = address
        self._finalizer = weakref.finalize(self, Pool._release, self._channel, self._cluster)

    def _await_cluster(self, processes):
        """A remote cluster's cores: its slots (those of the `processes` largest workers when
        given, as the coordinator's max_workers picks)."""
        try:
            info = self._stub.GetClusterInfo(self._pb2.GetClusterInfoRequest(),
                                             timeout=CONNECT_TIMEOUT_S, wait_for_ready=True)
        except self._grpc.RpcError as error:
            raise errors.PoolError(error.code().name,
                                   f"coordinator {error.details()}") from None
        if processes:
            slots = sorted((worker.slots for worker in info.workers), reverse=True)
            return sum(slots[:processes])
        return info.total_slots

    @staticmethod
    def _release(channel, cluster):
        if channel is not None:
            channel.close()
        if cluster is not None:
            cluster.stop()

    def _shutdown(self):
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()
        else:
            Pool._release(self._channel, self._cluster)

    # --- jobs ------------------------------------------------------------------------------

    def _check_running(self):
        if self._state != _RUN:
            raise ValueError("Pool not running")

    def _chunks(self, name, job_input, count, chunksize):
        """(first_element, values, pid) per chunk of one job, in completion order, checked."""
        pb2 = self._pb2
        if not chunksize and self._cluster is not None:
            # multiprocessing's default, from the pool's size rather than from the workers
            # registered when the job is planned: a private cluster's workers may still be
            # starting, and the plan should serve all of them.
            chunksize = -(-count // (4 * self._processes))
        request = pb2.MapRequest(function=name, input=job_input,
                                 chunk_size=chunksize or 0, max_workers=self._max_workers,
                                 result_mode=pb2.RESULT_MODE_VALUES)
        call = self._stub.Map(request, timeout=JOB_DEADLINE_S)
        with self._lock:
            if self._state == _TERMINATE:
                call.cancel()
            self._calls.add(call)
        received = 0
        output_type = None
        try:
            for response in call:
                if response.HasField("started") and response.started.output_type:
                    output_type = elements.parse_type(response.started.output_type)
                for chunk in response.results:
                    value_type, values = elements.values_of(chunk.values)
                    if (len(values) != chunk.element_count or
                            (output_type is not None and value_type != output_type) or
                            not elements.summary_agrees(chunk.summary, value_type, values) or
                            not 0 <= chunk.first_element <= count - len(values)):
                        raise errors.PoolError(
                            "DATA_LOSS", f"chunk {chunk.chunk_index} of job "
                            f"{response.started.job_id or name}: its values disagree with "
                            "its count, type, summary or position")
                    received += len(values)
                    yield chunk.first_element, values, chunk.worker.pid
                if response.HasField("finished") and received != count:
                    raise errors.PoolError("DATA_LOSS", f"the job ended with {received} of "
                                                        f"{count} results")
        except self._grpc.RpcError as error:
            if self._cluster is not None and error.code() == self._grpc.StatusCode.UNAVAILABLE:
                self._cluster.check_alive()
            details = error.details()
            if name == CALL_BATCH and error.code() == self._grpc.StatusCode.UNAVAILABLE:
                details += ("; a Python callable runs on Python workers (python3 -m "
                            "gpool.worker): map a function name to use C++ workers")
            failure = errors.decode(error.code().name, details)
            # Not the RpcError: the remote traceback (or nothing) is the cause.
            raise failure from failure.__cause__
        finally:
            call.cancel()  # Ends the job if the reader stopped early; a no-op once done.
            with self._lock:
                self._calls.discard(call)

    def _typed_results(self, name, iterable, chunksize, ordered):
        for job_input, count in _job_inputs(self._pb2, iterable):
            chunks = self._chunks(name, job_input, count, chunksize)
            yield from (_in_order(chunks) if ordered else _as_they_come(chunks))

    def _pickled_results(self, func, iterable, chunksize, ordered, star=False):
        """func's results over iterable, a Pool chunk's list at a time, through
        gpool.python.call_batch: one bytes element per Pool chunk of arguments, submitted
        with gpool chunk_size 1. (Lists, not elements: a generator step per element would
        cost a third of a warm map's time.)"""
        cloudpickle = _import_cloudpickle()
        if star:
            func = functools.partial(_star, func)
        for group in _pickled_groups(iterable, star):
            size = chunksize or -(-len(group) // (4 * max(1, self._processes or 1)))
            pieces = list(_pickle_chunks(cloudpickle, func, group, size))
            yield from self._run_pickled(cloudpickle, func, pieces, ordered)

    def _run_pickled(self, cloudpickle, func, pieces, ordered):
        """Results of (payload, arguments) pieces, in jobs of at most MAX_LIST_BYTES."""
        start = 0
        while start < len(pieces):
            end, total = start, 0
            while end < len(pieces) and (end == start or total + len(pieces[end][0]) +
                                         _ELEMENT_OVERHEAD_BYTES <= MAX_LIST_BYTES):
                total += len(pieces[end][0]) + _ELEMENT_OVERHEAD_BYTES
                end += 1
            job = pieces[start:end]
            start = end
            message = self._pb2.Input()
            elements.fill(message.list, elements.BYTES, [payload for payload, _ in job])
            outcomes = self._pickled_outcomes(job, self._chunks(CALL_BATCH, message, len(job),
                                                                1))
            if not ordered:
                for _, result in outcomes:
                    yield self._pickled_values(cloudpickle, func, result)
                continue
            early = {}
            position = 0
            for index, result in outcomes:
                early[index] = result
                while position in early:
                    yield self._pickled_values(cloudpickle, func, early.pop(position))
                    position += 1

    @staticmethod
    def _pickled_outcomes(job, chunks):
        """(piece index, (arguments, unpickled result)) per bytes result, as they come."""
        for first, values, _ in chunks:
            for offset, blob in enumerate(values):
                arguments = job[first + offset][1]
                yield first + offset, (arguments, pickle.loads(blob))

    def _pickled_values(self, cloudpickle, func, outcome):
        """The results of one piece, as a list; raises the function's exception."""
        arguments, result = outcome
        if isinstance(result, Failure):
            error = result.error()
            raise error from error.__cause__
        if isinstance(result, Oversized):
            if len(arguments) == 1:
                raise ValueError(f"a result pickles to {result.size} bytes; a result (or a "
                                 "Pool chunk's results) is at most 1 MiB "
                                 f"({elements.MAX_ELEMENT_BYTES} bytes)")
            # Run again in two halves (and so on): each holds fewer results.
            half = len(arguments) // 2
            pieces = [piece for part in (arguments[:half], arguments[half:])
                      for piece in _pickle_chunk(cloudpickle, func, part, 0)]
            return [value for results in self._run_pickled(cloudpickle, func, pieces, True)
                    for value in results]
        if not isinstance(result, list) or len(result) != len(arguments):
            raise errors.PoolError("DATA_LOSS", f"{CALL_BATCH} answered {type(result).__name__} "
                                                f"for a batch of {len(arguments)} arguments")
        return result

    def _results(self, func, iterable, chunksize, ordered, star=False):
        if chunksize is not None and chunksize < 1:
            raise ValueError("Chunksize must be 1+, not {0:n}".format(chunksize))
        name = registry.name_of(func)
        if name is None:
            return _flatten(self._pickled_results(func, iterable, chunksize, ordered, star))
        if star:
            iterable = _single_arguments(iterable)
        return self._typed_results(name, iterable, chunksize, ordered)

    def _imap(self, func, iterable, chunksize, ordered):
        # Checked now, as multiprocessing does, not when the caller first reads.
        self._check_running()
        return self._results(func, iterable, chunksize, ordered)

    # --- multiprocessing.Pool's API --------------------------------------------------------

    def map(self, func, iterable, chunksize=None):
        """[func(x) for x in iterable], computed on the cluster, in input order."""
        self._check_running()
        name = registry.name_of(func)
        if name is None:
            if chunksize is not None and chunksize < 1:
                raise ValueError("Chunksize must be 1+, not {0:n}".format(chunksize))
            results = []
            for values in self._pickled_results(func, iterable, chunksize, ordered=True):
                results.extend(values)
            return results
        results = []
        for job_input, count in _job_inputs(self._pb2, iterable):
            job_results = [None] * count
            for first, values, _ in self._chunks(name, job_input, count, chunksize):
                job_results[first:first + len(values)] = values
            results.extend(job_results)
        return results

    def imap(self, func, iterable, chunksize=None):
        """Like map, lazily: results in input order as soon as each is known."""
        return self._imap(func, iterable, chunksize, ordered=True)

    def imap_unordered(self, func, iterable, chunksize=None):
        """Like imap, in the order chunks complete."""
        return self._imap(func, iterable, chunksize, ordered=False)

    def starmap(self, func, iterable, chunksize=None):
        """map over argument tuples: func(*args). A named function takes one element: (x,)."""
        self._check_running()
        return list(self._results(func, iterable, chunksize, ordered=True, star=True))

    def apply(self, func, args=(), kwds=None):
        """func(*args, **kwds) on a worker."""
        self._check_running()
        if registry.name_of(func) is not None:
            if kwds or len(args) != 1:
                raise TypeError("a named gpool function takes one element; pass a Python "
                                "callable to call with other arguments")
            return self.map(func, [args[0]])[0]
        return self.map(functools.partial(_call, func, dict(kwds or {})), [tuple(args)])[0]

    def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        self._check_running()
        if not isinstance(iterable, range) and not hasattr(iterable, "__len__"):
            iterable = list(iterable)  # As multiprocessing does, before returning.
        return self._track(AsyncResult(lambda: self.map(func, iterable, chunksize),
                                       callback, error_callback))

    def starmap_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        self._check_running()
        items = list(iterable)
        return self._track(AsyncResult(lambda: self.starmap(func, items, chunksize),
                                       callback, error_callback))

    def apply_async(self, func, args=(), kwds=None, callback=None, error_callback=None):
        self._check_running()
        return self._track(AsyncResult(lambda: self.apply(func, args, kwds), callback,
                                       error_callback))

    def _track(self, result):
        with self._lock:
            self._async = [pending for pending in self._async if not pending.ready()]
            self._async.append(result)
        return result

    def close(self):
        """No more work; join() then waits for what was submitted."""
        if self._state == _RUN:
            self._state = _CLOSE

    def terminate(self):
        """Cancels the jobs in flight (their maps raise) and stops a private cluster."""
        with self._lock:
            self._state = _TERMINATE
            calls = list(self._calls)
        for call in calls:
            call.cancel()
        self._shutdown()

    def join(self):
        """Waits for the submitted work, then releases the pool (after close or terminate)."""
        if self._state == _RUN:
            raise ValueError("Pool is still running")
        with self._lock:
            pending = list(self._async)
        for result in pending:
            result.wait()
        self._shutdown()

    def __enter__(self):
        self._check_running()
        return self

    def __exit__(self, exc_type, exc, traceback):
        # As multiprocessing.Pool: leaving the block terminates the pool.
        self.terminate()
        return False

    def __repr__(self):
        return (f"<gpool.Pool state={self._state} address={getattr(self, 'address', None)} "
                f"cores={getattr(self, '_processes', None)}>")
