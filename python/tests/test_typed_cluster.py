"""Typed elements and Python callables through a real cluster: a coordinator, a C++ worker
(the built-ins upper, length, sqrt, sha256) and a Python worker (functions_for_tests, and
gpool.python.call_batch for lambdas and closures), on loopback."""

import hashlib
import math
import random

import pytest

import functions_for_tests
import gpool
from conftest import Cluster
from gpool import Pool, elements

DOUBLES = [random.Random(7).choice([-1.0, 1.0]) * random.Random(i).random() *
           10.0 ** random.Random(-i).randint(-200, 200) for i in range(100_000)]


@pytest.fixture(scope="module")
def mixed(bin_dir):
    """(cluster, pool, C++ worker process, Python worker process), shared by the module."""
    cluster = Cluster(bin_dir)
    try:
        cluster.start_coordinator("--worker_wait=1s")
        cpp = cluster.start_cpp_worker("cpp-worker", slots=1)
        python = cluster.start_python_worker("python-worker", slots=2)
        cluster.info(min_workers=2)
        with Pool(address=cluster.address) as pool:
            yield cluster, pool, cpp, python
    finally:
        cluster.stop()


def _chunk_results(pool, function, values, chunk_size, result_mode):
    """The ChunkResults of one Map job of `values` (a list, or a range)."""
    pb2 = pool._pb2
    request = pb2.MapRequest(function=function, chunk_size=chunk_size, result_mode=result_mode)
    if isinstance(values, range):
        request.input.range.start, request.input.range.end = values.start, values.stop - 1
    else:
        elements.fill(request.input.list, elements.type_of_value(values[0]), values)
    return [chunk for response in pool._stub.Map(request, timeout=60)
            for chunk in response.results]


# --- each type, on the Python worker ---------------------------------------------------------

def test_map_pythonStringFunction_returnsStringsInOrder(mixed):
    _, pool, _, _ = mixed
    words = ["gpool", "", "ünïcødé", "x" * 100_000]
    assert pool.map("test_reverse", words, chunksize=1) == [word[::-1] for word in words]


def test_map_pythonDoubleFunction_takesIntsAsFloats(mixed):
    _, pool, _, _ = mixed
    assert pool.map("test_root", [4.0, 2.25, math.inf]) == [2.0, 1.5, math.inf]
    assert pool.map("test_root", [4, 9]) == [2.0, 3.0]
    assert pool.map("test_root", range(1, 4)) == [1.0, 2 ** 0.5, 3 ** 0.5]


def test_map_pythonBytesFunction_takesBytesAndStrings(mixed):
    _, pool, _, _ = mixed
    assert pool.map("test_bytes_reverse", [b"\x00\xff", b"abc"]) == [b"\xff\x00", b"cba"]
    assert pool.map("test_byte_sum", ["é", "ab"]) == [0xc3 + 0xa9, 97 + 98]


def test_map_pythonStringResultOver1MiB_raisesOverflowError(mixed):
    _, pool, _, _ = mixed
    with pytest.raises(OverflowError, match=r"test_repeat\(1048577\)"):
        pool.map("test_repeat", [3, 1048577])


def test_map_elementsOfAnotherType_raisesValueErrorNamingBothTypes(mixed):
    _, pool, _, _ = mixed
    with pytest.raises(ValueError, match="(?s)(string.*int64|int64.*string)"):
        pool.map("test_reverse", [1, 2])


def test_map_doubleSummariesOfPythonWorker_addUpToFsum(mixed):
    _, pool, _, _ = mixed
    for chunk_size in (1000, 7777):
        total = 0
        for chunk in _chunk_results(pool, "test_double_identity", DOUBLES, chunk_size,
                                    pool._pb2.RESULT_MODE_SUM):
            total += elements.decode_exact_sum(chunk.summary.double_summary.exact_sum)
        assert elements.exact_sum_to_double(total) == math.fsum(DOUBLES)


# --- the C++ built-ins ------------------------------------------------------------------------

def test_map_cppUpper_returnsUpperCaseStrings(mixed):
    _, pool, _, _ = mixed
    assert pool.map("upper", ["a", "b", "gpool map"]) == ["A", "B", "GPOOL MAP"]


def test_map_cppLength_countsCodePoints(mixed):
    _, pool, _, _ = mixed
    assert pool.map("length", ["", "abc", "héllo", "日本"]) == [0, 3, 5, 2]


def test_map_cppSqrt_doublesAndInts(mixed):
    _, pool, _, _ = mixed
    assert pool.map("sqrt", [4.0, 2.0, 0.25]) == [2.0, math.sqrt(2.0), 0.5]
    assert pool.map("sqrt", range(1, 5)) == [1.0, math.sqrt(2), math.sqrt(3), 2.0]


def test_map_cppSha256_bytesAndStrings(mixed):
    _, pool, _, _ = mixed
    assert pool.map("sha256", [b"abc", b""]) == [hashlib.sha256(b"abc").digest(),
                                                 hashlib.sha256(b"").digest()]
    assert pool.map("sha256", ["é"]) == [hashlib.sha256("é".encode()).digest()]


# --- C++ and Python workers in one job ---------------------------------------------------------

def test_map_stringFunctionOnCppAndPythonWorkers_bothComputeAndOrderHolds(mixed):
    _, pool, cpp, python = mixed
    words = [f"word-{index}-" + "abcxyz"[index % 6] * (index % 9) for index in range(3000)]
    chunks = _chunk_results(pool, "upper", words, 10, pool._pb2.RESULT_MODE_VALUES)
    results = [None] * len(words)
    for chunk in chunks:
        results[chunk.first_element:chunk.first_element + chunk.element_count] = \
            chunk.values.strings.values
    assert results == [word.upper() for word in words]
    assert {chunk.worker.pid for chunk in chunks} == {cpp.pid, python.pid}
    assert pool.map("upper", words, chunksize=10) == [word.upper() for word in words]


def test_map_sqrtOnCppAndPythonWorkers_exactSumEqualsFsum(mixed):
    _, pool, cpp, python = mixed
    values = [abs(x) for x in DOUBLES]
    expected = math.fsum(math.sqrt(x) for x in values)
    for chunk_size in (500, 3333):
        chunks = _chunk_results(pool, "sqrt", values, chunk_size, pool._pb2.RESULT_MODE_SUM)
        total = sum(elements.decode_exact_sum(chunk.summary.double_summary.exact_sum)
                    for chunk in chunks)
        assert elements.exact_sum_to_double(total) == expected
    assert {chunk.worker.pid for chunk in chunks} == {cpp.pid, python.pid}


# --- Python callables by value -------------------------------------------------------------

def test_map_lambda_exactResultsInOrder(mixed):
    _, pool, _, _ = mixed
    assert pool.map(lambda x: x * x - 1, range(20_000)) == [x * x - 1 for x in range(20_000)]


def test_map_closure_returnsAnyPicklableResult(mixed):
    _, pool, _, _ = mixed
    offset = 0.5
    assert pool.map(lambda x: (x, x + offset, str(x)), [1, 2], chunksize=1) == \
        [(1, 1.5, "1"), (2, 2.5, "2")]
    assert pool.map(functions_for_tests.scale(3), ["ab", 7]) == ["ababab", 21]


def test_imap_lambdaOverGenerator_yieldsInInputOrder(mixed):
    _, pool, _, _ = mixed
    results = pool.imap(lambda x: -x, (x for x in range(30_000)), chunksize=100)
    assert list(results) == [-x for x in range(30_000)]


def test_imapUnordered_lambda_yieldsEveryResultOnce(mixed):
    _, pool, _, _ = mixed
    assert sorted(pool.imap_unordered(lambda x: 3 * x, range(5000), chunksize=37)) == \
        [3 * x for x in range(5000)]


def test_starmap_lambdaSeveralArguments_mapsEachTuple(mixed):
    _, pool, _, _ = mixed
    assert pool.starmap(lambda a, b, c: a * b + c, [(1, 2, 3), (4, 5, 6)]) == [5, 26]


def test_map_lambdaRaises_reraisesSameTypeWithRemoteTraceback(mixed):
    _, pool, _, _ = mixed
    with pytest.raises(ZeroDivisionError) as raised:
        pool.map(lambda x: 1 // (x - 500), range(1000))
    assert "Remote traceback (gpool worker pid" in str(raised.value)
    assert isinstance(raised.value.__cause__, gpool.RemoteTraceback)


def test_map_lambdaWithoutPythonWorkers_raisesPoolErrorSayingWhy(bin_dir, cluster):
    cluster.start_coordinator("--worker_wait=0.3s")
    cluster.start_cpp_worker("cpp-worker")
    cluster.info(min_workers=1)
    with Pool(address=cluster.address) as pool:
        with pytest.raises(gpool.PoolError, match="runs on Python workers"):
            pool.map(lambda x: x, [1])


def test_imap_lambdaReaderStopsEarly_jobIsCancelled(mixed):
    from conftest import wait_until
    cluster, pool, _, _ = mixed
    results = pool.imap(lambda x: x + 1, range(10 ** 5), chunksize=10)
    assert [next(results) for _ in range(5)] == [1, 2, 3, 4, 5]
    results.close()
    wait_until("the abandoned job is gone", lambda: not cluster.info().jobs, 10)
