"""Typed elements and Python callables through the Pool and the real Python worker code,
in-process (fake_coordinator.py stands in for the coordinator): no daemons needed."""

import math
import random

import pytest

import fake_coordinator
import functions_for_tests
from gpool import elements, python as gpool_python

MIXED_DOUBLES = [random.Random(19).choice([-1.0, 1.0]) * random.Random(i).random() *
                 10.0 ** random.Random(-i).randint(-300, 300) for i in range(20_000)]


@pytest.fixture(scope="module")
def pool():
    made, _, _ = fake_coordinator.make_pool()
    return made


def test_exactSum_anyChunking_equalsFsum():
    values = MIXED_DOUBLES + [5e-324, -1.5e308, 1e308, 0.1, -0.0]
    whole = elements.double_summary(values)[0]
    for size in (1, 7, 1000):
        parts = [elements.double_summary(values[i:i + size])[0]
                 for i in range(0, len(values), size)]
        travelled = [elements.decode_exact_sum(elements.encode_exact_sum(part))
                     for part in parts]
        assert sum(travelled) == whole
    assert elements.exact_sum_to_double(whole) == math.fsum(values)


def test_encodeExactSum_minimalTwosComplement():
    assert elements.encode_exact_sum(0) == b""
    assert elements.encode_exact_sum(127) == b"\x7f"
    assert elements.encode_exact_sum(128) == b"\x80\x00"
    assert elements.encode_exact_sum(-128) == b"\x80"
    assert elements.encode_exact_sum(-129) == b"\x7f\xff"


def test_exactSumToDouble_beyondLargestDouble_isInfinity():
    largest = elements.exact_units(1.7976931348623157e308)
    assert elements.exact_sum_to_double(2 * largest) == math.inf
    assert elements.exact_sum_to_double(-2 * largest) == -math.inf


def test_doubleSummary_nonFinite_sumsThemAndIgnoresNanInMinMax():
    exact, nonfinite, low, high = elements.double_summary([1.5, math.inf, math.nan, -2.0])
    assert exact == elements.exact_units(-0.5)
    assert math.isnan(nonfinite)
    assert (low, high) == (-2.0, math.inf)
    assert elements.double_summary([math.nan])[2:] == (math.inf, -math.inf)


def test_map_stringFunction_returnsStringsInOrder(pool):
    words = ["gpool", "", "ünïcødé", "a" * 1000]
    assert pool.map("test_reverse", words, chunksize=1) == [w[::-1] for w in words]


def test_map_doubleFunctionOverInts_takesThemAsFloats(pool):
    assert pool.map("test_root", [4, 9, 2]) == [2.0, 3.0, 2 ** 0.5]
    assert pool.map("test_root", range(1, 4)) == [1.0, 2 ** 0.5, 3 ** 0.5]


def test_map_bytesFunctionOverStrings_takesTheirUtf8(pool):
    assert pool.map("test_byte_sum", ["é", "ab"]) == [0xc3 + 0xa9, 97 + 98]
    assert pool.map("test_bytes_reverse", [b"\x00\x01", b""]) == [b"\x01\x00", b""]


def test_map_doubles_summariesAddUpToFsum(pool):
    pb2 = pool._pb2
    request = pb2.MapRequest(function="test_double_identity", chunk_size=333,
                             result_mode=pb2.RESULT_MODE_VALUES)
    elements.fill(request.input.list, elements.DOUBLE, MIXED_DOUBLES)
    total, nonfinite, chunks = 0, 0.0, 0
    for response in pool._stub.Map(request):
        for chunk in response.results:
            assert elements.summary_agrees(chunk.summary, elements.DOUBLE,
                                          chunk.values.doubles.values)
            summary = chunk.summary.double_summary
            total += elements.decode_exact_sum(summary.exact_sum)
            nonfinite += summary.nonfinite_sum
            chunks += 1
    assert chunks == -(-len(MIXED_DOUBLES) // 333)
    assert elements.exact_sum_to_double(total, nonfinite) == math.fsum(MIXED_DOUBLES)


def test_map_stringResultOver1MiB_raisesOverflowErrorNamingTheInput(pool):
    with pytest.raises(OverflowError, match=r"test_repeat\(1048577\).*1 MiB"):
        pool.map("test_repeat", [1, 1048577])


def test_map_resultOfWrongType_raisesTypeError(pool):
    with pytest.raises(TypeError, match=r"returned int; 'test_wrong_string' returns string"):
        pool.map("test_wrong_string", [1])


def test_map_elementsTheFunctionDoesNotTake_raisesValueErrorNamingBothTypes(pool):
    with pytest.raises(ValueError, match="takes string elements.*holds int64"):
        pool.map("test_reverse", [1, 2])


def test_map_mixedElementTypes_raisesTypeErrorNamingThePosition(pool):
    with pytest.raises(TypeError, match="element 2 is a str, element 0 a int"):
        pool.map("identity", [1, 2, "3"])


def test_map_elementOver1MiB_raisesValueError(pool):
    with pytest.raises(ValueError, match="element 1 is 1048577 bytes"):
        pool.map("test_reverse", ["a", "b" * 1048577])


def test_map_lambda_returnsResultsInOrder(pool):
    assert pool.map(lambda x: x * 2 + 1, range(1000)) == [x * 2 + 1 for x in range(1000)]


def test_map_closureOverObjects_returnsAnyPicklableResult(pool):
    triple = functions_for_tests.scale(3)
    assert pool.map(triple, [1, 2.5, "ab", (1,)], chunksize=2) == [3, 7.5, "ababab",
                                                                      (1, 1, 1)]


def test_imap_lambdaOverGenerator_yieldsInInputOrder(pool):
    results = pool.imap(lambda x: -x, (x for x in range(25_000)))
    assert list(results) == [-x for x in range(25_000)]


def test_imapUnordered_lambda_yieldsEveryResultOnce(pool):
    assert sorted(pool.imap_unordered(lambda x: x % 7, range(500), chunksize=9)) == \
        sorted(x % 7 for x in range(500))


def test_starmap_lambda_takesSeveralArguments(pool):
    assert pool.starmap(lambda a, b: a * b, [(2, 3), (4, 5)]) == [6, 20]


def test_map_lambdaRaises_reraisesSameTypeAfterEarlierResults(pool):
    results = pool.imap(lambda x: 10 // (x - 5), range(10), chunksize=2)
    assert [next(results) for _ in range(4)] == [-2, -3, -4, -5]
    with pytest.raises(ZeroDivisionError) as raised:
        next(results)
    assert "Remote traceback (gpool worker pid" in str(raised.value)


def test_map_lambdaResultsOver1MiB_runsThemAgainInSmallerBatches(pool, monkeypatch):
    monkeypatch.setattr(elements, "MAX_ELEMENT_BYTES", 4096)
    results = pool.map(lambda x: str(x) * 100, range(200), chunksize=100)
    assert results == [str(x) * 100 for x in range(200)]


def test_callBatch_unpicklablePayload_answersFailure():
    import pickle
    failure = pickle.loads(gpool_python.call_batch(b"not a pickle"))
    assert isinstance(failure, gpool_python.Failure)
    assert isinstance(failure.error(), pickle.UnpicklingError)


def test_map_stringThatIsNotUtf8_raisesValueErrorNamingThePosition(pool):
    with pytest.raises(ValueError, match="element 1 is not UTF-8 text"):
        pool.map("test_reverse", ["a", "b\ud800"])


def test_map_functionReturnsStringThatIsNotUtf8_raisesValueError(pool):
    with pytest.raises(ValueError, match="UTF-8 cannot encode"):
        pool.map("test_surrogate", ["é"])
