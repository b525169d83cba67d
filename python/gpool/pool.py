"""gpool.Pool: multiprocessing.Pool's map family over a gpool cluster.

Each map is one or more Map jobs on the coordinator (a list longer than MAX_LIST_ELEMENTS
is split into several, one after another); results come back as the Map stream's chunk
results, which imap puts in input order holding only the chunks that arrived early, and
imap_unordered yields as they arrive. A caller that reads slowly slows its job: the
coordinator dispatches no more chunks while the job's result window is full (gpool.proto,
"Flow control"), so nothing here buffers a whole job.

Elements and results are int64 (Python ints in [-2^63, 2^63-1]) until typed elements
(gpool issue 19).
"""

import operator
import os
import threading
import weakref

from gpool import _common, errors, registry
from gpool._stubs import load as _load_stubs

# Elements of one ValueList job: at 10 bytes per value (the worst zigzag varint) 3.5 MB, under
# the coordinator's 4 MiB - 64 KiB request limit (gpool.proto, MapRequest). Longer inputs
# become several jobs, one after another (a client-streamed Map for long inputs is coming).
MAX_LIST_ELEMENTS = 350_000
# Every call carries a deadline; a map has no natural one, so a long one.
JOB_DEADLINE_S = 7 * 24 * 3600.0
# How long Pool(address=...) waits for the coordinator's first answer.
CONNECT_TIMEOUT_S = 10.0

_RUN, _CLOSE, _TERMINATE = "RUN", "CLOSE", "TERMINATE"


def _job_inputs(pb2, iterable):
    """(Input, element count) per job: a range(...) with step 1 as one Range, anything else
    as ValueLists of at most MAX_LIST_ELEMENTS, read from the iterable one job at a time."""
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
    batch = []
    position = 0
    for element in iterable:
        try:
            value = operator.index(element)
        except TypeError:
            raise TypeError(f"element {position} is a {type(element).__name__}; gpool maps "
                            "int64 elements for now (typed elements: gpool issue 19)") from None
        if not _common.INT64_MIN <= value <= _common.INT64_MAX:
            raise OverflowError(f"element {position} ({value}) does not fit in a signed "
                                "64-bit integer")
        batch.append(value)
        position += 1
        if len(batch) == MAX_LIST_ELEMENTS:
            yield pb2.Input(list=pb2.ValueList(values=batch)), len(batch)
            batch = []
    if batch:
        yield pb2.Input(list=pb2.ValueList(values=batch)), len(batch)


def _single_arguments(iterable):
    for position, arguments in enumerate(iterable):
        if len(arguments) != 1:
            raise TypeError(f"starmap: item {position} has {len(arguments)} arguments; gpool "
                            "functions take one int64 for now (several arguments travel as "
                            "typed elements: gpool issue 19)")
        yield arguments[0]


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

    func is a function name (any worker offering it: C++ or Python), an @gpool.function,
    or a module-level function of the main script or of a module the workers import.
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
        """(first_element, values) per chunk of one job, in completion order, checked."""
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
        try:
            for response in call:
                for chunk in response.results:
                    values = chunk.values
                    if (len(values) != chunk.element_count or
                            sum(values) != _common.int128_to_int(chunk.partial_sum) or
                            not 0 <= chunk.first_element <= count - len(values)):
                        raise errors.PoolError(
                            "DATA_LOSS", f"chunk {chunk.chunk_index} of job "
                            f"{response.started.job_id or name}: its values disagree with "
                            "its count, sum or position")
                    received += len(values)
                    yield chunk.first_element, values, chunk.worker.pid
                if response.HasField("finished") and received != count:
                    raise errors.PoolError("DATA_LOSS", f"the job ended with {received} of "
                                                        f"{count} results")
        except self._grpc.RpcError as error:
            if self._cluster is not None and error.code() == self._grpc.StatusCode.UNAVAILABLE:
                self._cluster.check_alive()
            failure = errors.decode(error.code().name, error.details())
            # Not the RpcError: the remote traceback (or nothing) is the cause.
            raise failure from failure.__cause__
        finally:
            call.cancel()  # Ends the job if the reader stopped early; a no-op once done.
            with self._lock:
                self._calls.discard(call)

    def _imap(self, func, iterable, chunksize, ordered):
        # Checked now, as multiprocessing does, not when the caller first reads.
        self._check_running()
        return self._imap_results(registry.name_of(func), iterable, chunksize, ordered)

    def _imap_results(self, name, iterable, chunksize, ordered):
        for job_input, count in _job_inputs(self._pb2, iterable):
            if not ordered:
                for _, values, _ in self._chunks(name, job_input, count, chunksize):
                    yield from values
                continue
            early = {}
            position = 0
            for first, values, _ in self._chunks(name, job_input, count, chunksize):
                early[first] = values
                while position in early:
                    values = early.pop(position)
                    position += len(values)
                    yield from values

    # --- multiprocessing.Pool's API --------------------------------------------------------

    def map(self, func, iterable, chunksize=None):
        """[func(x) for x in iterable], computed on the cluster, in input order."""
        self._check_running()
        name = registry.name_of(func)
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
        """map over argument tuples; for now each tuple holds one int64: (x,)."""
        return self.map(func, _single_arguments(iterable), chunksize)

    def apply(self, func, args=(), kwds=None):
        if kwds or len(args) != 1:
            raise TypeError("gpool functions take one int64 argument for now (gpool issue 19)")
        return self.map(func, [args[0]])[0]

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
