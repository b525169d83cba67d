"""map, imap, imap_unordered, starmap and map_async of a private local cluster's Pool."""

import pytest

import functions_for_tests
import gpool
from gpool import pool as pool_module

SEED_SUM = 41679167500


def test_map_range_returnsSquaresInInputOrder(local_pool):
    assert local_pool.map(functions_for_tests.cube, range(-50, 51)) == \
        [x ** 3 for x in range(-50, 51)]


def test_map_seedByName_sumIsExact(local_pool):
    assert sum(local_pool.map("square", range(1, 5001))) == SEED_SUM


def test_map_list_returnsValuesInInputOrder(local_pool):
    inputs = [5, -3, 0, 2 ** 62, -(2 ** 63), 17, 17, 1]
    assert local_pool.map("identity", inputs, chunksize=3) == inputs


def test_map_undecoratedModuleFunction_runsByValue(local_pool):
    assert local_pool.map(functions_for_tests.plain_double, [1, 2.5, "ab"]) == [2, 5.0, "abab"]


def test_map_emptyIterable_returnsEmptyList(local_pool):
    assert local_pool.map("square", []) == []
    assert local_pool.map("square", range(0)) == []


def test_map_valuesNearInt64Limits_sumIsExactPythonInt(local_pool):
    inputs = [2 ** 63 - 1] * 1000
    results = local_pool.map("identity", inputs, chunksize=7)
    assert sum(results) == 1000 * (2 ** 63 - 1)


def test_map_listLongerThanOneJob_splitsIntoJobsInOrder(local_pool, monkeypatch):
    monkeypatch.setattr(pool_module, "MAX_LIST_ELEMENTS", 1000)
    inputs = list(range(5500, 0, -1))
    assert local_pool.map("square", inputs, chunksize=100) == [x * x for x in inputs]


def test_imap_smallChunks_yieldsInInputOrder(local_pool):
    assert list(local_pool.imap("square", range(2000), chunksize=10)) == \
        [x * x for x in range(2000)]


def test_imap_generatorInput_yieldsInInputOrder(local_pool):
    assert list(local_pool.imap("square", (x for x in range(300)), chunksize=7)) == \
        [x * x for x in range(300)]


def test_imap_unordered_yieldsEveryElementExactlyOnce(local_pool):
    results = list(local_pool.imap_unordered("square", range(3000), chunksize=13))
    assert sorted(results) == [x * x for x in range(3000)]


def test_imap_readerStopsEarly_jobIsCancelled(local_pool):
    from gpool._stubs import load
    results = local_pool.imap("test_slow_identity", range(10 ** 9), chunksize=100)
    assert [next(results) for _ in range(5)] == [0, 1, 2, 3, 4]
    results.close()
    grpc, pb2, _ = load()
    from conftest import wait_until

    def no_jobs():
        return not local_pool._stub.GetClusterInfo(pb2.GetClusterInfoRequest(),
                                                   timeout=5).jobs
    wait_until("the abandoned job is gone", no_jobs, 10)


def test_starmap_singleArgumentTuples_mapsTheArgument(local_pool):
    assert local_pool.starmap("square", [(2,), (3,)]) == [4, 9]


def test_starmap_namedFunctionTwoArguments_raisesTypeError(local_pool):
    with pytest.raises(TypeError, match="takes one element"):
        local_pool.starmap("square", [(2, 3)])


def test_mapAsync_get_returnsResultAndReportsSuccess(local_pool):
    result = local_pool.map_async("square", range(1, 5001))
    assert sum(result.get(timeout=30)) == SEED_SUM
    assert result.ready() and result.successful()


def test_mapAsync_getBeforeDone_raisesTimeoutError(local_pool):
    result = local_pool.map_async("test_slow_identity", range(2000), chunksize=10)
    with pytest.raises(gpool.TimeoutError):
        result.get(timeout=0.01)
    assert result.get(timeout=60) == list(range(2000))


def test_mapAsync_failingFunction_callsErrorCallback(local_pool):
    seen = []
    result = local_pool.map_async("test_fail_on_7", range(10), error_callback=seen.append)
    result.wait(30)
    assert result.ready() and not result.successful()
    assert isinstance(seen[0], functions_for_tests.CustomError)


def test_map_mixedElementTypes_raisesTypeErrorNamingThePosition(local_pool):
    with pytest.raises(TypeError, match="element 1 is a str"):
        local_pool.map("square", [1, "2"])
