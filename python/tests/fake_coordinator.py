"""A Pool wired to the real Python worker servicer in-process, through a fake coordinator
stub: Map cuts the job into chunks and runs each with WorkerServicer.RunChunks, as the
coordinator would, so the Pool's typed elements, call_batch and the worker's checks are
tested without the daemons (the tests against real clusters are the other files)."""

import threading

from gpool import elements, pool as pool_module, registry
from gpool._stubs import load

class _Context:
    def __init__(self, rpc_error):
        self._rpc_error = rpc_error

    def is_active(self):
        return True

    def abort(self, code, details):
        raise self._rpc_error(code, details)

    def auth_context(self):
        return {}

class _Call:
    def __init__(self, responses):
        self._responses = responses
        self.cancelled = False

    def __iter__(self):
        return self._responses

    def cancel(self):
        self.cancelled = True

class FakeCoordinatorStub:
    """Map only: one chunk per RunChunks call, in order, on one in-process worker."""

    def __init__(self, grpc, pb2, servicer, rpc_error, slots=2):
        self._grpc, self._pb2 = grpc, pb2
        self._servicer = servicer
        self._rpc_error = rpc_error
        self._slots = slots
        self.requests = []

    def Map(self, request, timeout=None):
        self.requests.append(request)
        return _Call(self._responses(request))

    def _responses(self, request):
        pb2 = self._pb2
        kind = request.input.WhichOneof("kind")
        if kind == "range":
            total = request.input.range.end - request.input.range.start + 1
        else:
            _, values = elements.values_of(request.input.list)
            total = len(values)
        chunk_size = min(request.chunk_size or -(-total // (4 * self._slots)), 1 << 18)
        function = self._servicer_function(request.function)
        input_type, output_type = registry.signature_of(function)
        yield pb2.MapResponse(started=pb2.JobStarted(
            job_id="job-1", total_elements=total, chunk_size=chunk_size,
            num_chunks=-(-total // chunk_size), cluster_slots=self._slots,
            input_type=elements.type_number(input_type),
            output_type=elements.type_number(output_type)))
        for index, first in enumerate(range(0, total, chunk_size)):
            count = min(chunk_size, total - first)
            chunk = pb2.ChunkTask(chunk_index=index, first_element=first, attempt=1)
            if kind == "range":
                start = request.input.range.start + first
                chunk.input.range.start, chunk.input.range.end = start, start + count - 1
            else:
                element_type, values = elements.values_of(request.input.list)
                elements.fill(chunk.input.list, element_type, values[first:first + count])
            answer = self._servicer.RunChunks(
                pb2.RunChunksRequest(job_id="job-1", function=request.function,
                                     chunks=[chunk], result_mode=request.result_mode),
                _Context(self._rpc_error))
            outcome = answer.results[0]
            yield pb2.MapResponse(results=[pb2.ChunkResult(
                chunk_index=index, first_element=first, element_count=outcome.element_count,
                values=outcome.values, summary=outcome.summary,
                worker=pb2.WorkerRef(worker_id="w1", host="localhost", pid=outcome.pid))])
        yield pb2.MapResponse(finished=pb2.JobFinished(total_elements=total))

    def _servicer_function(self, name):
        function = self._functions.get(name)
        if function is None:
            raise self._rpc_error(self._grpc.StatusCode.UNAVAILABLE,
                                  f"no worker offering '{name}'")
        return function

def make_pool(functions=None, slots=2):
    """A gpool.Pool whose coordinator is FakeCoordinatorStub over the real worker servicer
    offering `functions` (default: every function a worker offers in this process)."""
    grpc, pb2, pb2_grpc = load()

    class RpcError(grpc.RpcError):
        def __init__(self, code, details):
            super().__init__(details)
            self._code, self._details = code, details

        def code(self):
            return self._code

        def details(self):
            return self._details

    from gpool import worker
    functions = functions if functions is not None else registry.worker_functions()
    servicer = worker.make_servicer_class(grpc, pb2, pb2_grpc, functions)(
        slots, 1024, secure=False, incarnation=1)
    stub = FakeCoordinatorStub(grpc, pb2, servicer, RpcError, slots)
    stub._functions = functions
    pool = pool_module.Pool.__new__(pool_module.Pool)
    pool._state = pool_module._RUN
    pool._lock = threading.Lock()
    pool._calls = set()
    pool._async = []
    pool._cluster = None
    pool._channel = None
    pool._grpc, pool._pb2, pool._stub = grpc, pb2, stub
    pool._max_workers = 0
    pool._processes = slots
    pool.address = "fake"
    return pool, stub, servicer
