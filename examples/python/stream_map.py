"""Maps the int64 values of any iterable, of any length, through Coordinator.MapStream.

    import stream_map
    total, count = stream_map.map_stream(grpc, pb2, pb2_grpc, channel, "square",
                                         (x for x in range(1, 10**8 + 1)))

The iterable is consumed in batches as the coordinator takes them: gRPC's request iterator
runs on its own thread and waits in flow control while the coordinator's workers catch up, so
neither side ever holds the whole input (a generator need not end before results come).
Results are checked as examples/python/client.py checks Map's: each chunk index once, in its
place, then every chunk of the input before JobFinished. A one-shot generator cannot be
streamed again: after losing the coordinator, rerun the job.
"""

import itertools

# Values per MapStreamRequest: well under the protocol's 2^18 and its 4 MiB messages.
BATCH_VALUES = 1 << 16


class StreamError(Exception):
    """The stream broke the protocol's rules (a chunk twice, missing chunks, ...)."""


def _requests(pb2, header, values):
    yield pb2.MapStreamRequest(header=header)
    iterator = iter(values)
    while True:
        batch = list(itertools.islice(iterator, BATCH_VALUES))
        if not batch:
            return  # the half-close ends the input
        yield pb2.MapStreamRequest(values=pb2.Elements(int64s=pb2.Int64s(values=batch)))


def map_stream(grpc, pb2, pb2_grpc, channel, function, values, chunk_size=0, timeout=3600,
               on_chunk=None):
    """Returns (exact sum of function(x), number of elements). Raises grpc.RpcError for the
    call's own failure (see MapStream in proto/gpool.proto), StreamError for a broken stream.
    `on_chunk(chunk)` sees each ChunkResult as it arrives (completion order)."""
    header = pb2.MapRequest(function=function, chunk_size=chunk_size,
                            result_mode=pb2.RESULT_MODE_SUM)
    stub = pb2_grpc.CoordinatorStub(channel)
    responses = stub.MapStream(_requests(pb2, header, values), timeout=timeout)
    started = None
    seen = set()
    total = 0
    elements = 0
    finished = None
    for response in responses:
        if response.HasField("started"):
            if started is not None:
                raise StreamError("a second JobStarted arrived")
            started = response.started
        for chunk in response.results:
            if started is None:
                raise StreamError("a ChunkResult arrived before JobStarted")
            if chunk.chunk_index in seen:
                raise StreamError(f"chunk {chunk.chunk_index} arrived twice")
            if chunk.first_element != chunk.chunk_index * started.chunk_size:
                raise StreamError(f"chunk {chunk.chunk_index} starts at element "
                                  f"{chunk.first_element}")
            seen.add(chunk.chunk_index)
            if chunk.summary.WhichOneof("kind") != "int64_summary":
                raise StreamError(f"chunk {chunk.chunk_index} has no int64 summary: "
                                  f"'{function}' does not return int64")
            partial = chunk.summary.int64_summary.sum
            total += (partial.high - (1 << 64 if partial.high >> 63 else 0)) * (1 << 64) + \
                partial.low
            elements += chunk.element_count
            if on_chunk is not None:
                on_chunk(chunk)
        if response.HasField("finished"):
            finished = response.finished
    if finished is None:
        raise StreamError("the stream ended without JobFinished")
    chunks = -(-finished.total_elements // started.chunk_size)
    if seen != set(range(chunks)) or elements != finished.total_elements:
        raise StreamError(f"{len(seen)} chunks of {elements} elements arrived for an input of "
                          f"{finished.total_elements} elements in {chunks} chunks")
    return total, elements
