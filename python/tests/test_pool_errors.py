"""A function's exception on a worker raises on the caller, final, with its traceback."""

import pytest

import functions_for_tests
import gpool


def test_map_functionRaises_raisesSameTypeWithRemoteTraceback(local_pool):
    with pytest.raises(functions_for_tests.CustomError) as raised:
        local_pool.map("test_fail_on_7", range(20))
    message = str(raised.value)
    assert message.startswith("cannot take 7")
    assert "Remote traceback (gpool worker pid" in message
    assert "in fail_on_7" in message
    assert isinstance(raised.value.__cause__, gpool.RemoteTraceback)


def test_map_unimportableExceptionClass_raisesRemoteError(local_pool):
    with pytest.raises(gpool.RemoteError, match="Hidden: hidden 0"):
        local_pool.map("test_local_error", [0])


def test_map_resultOverInt64_raisesOverflowError(local_pool):
    with pytest.raises(OverflowError, match="square"):
        local_pool.map("square", [3037000500])


def test_map_floatResult_raisesTypeError(local_pool):
    with pytest.raises(TypeError, match="returned float"):
        local_pool.map("test_half", [3])


def test_map_functionNobodyOffers_raisesPoolError(bin_dir, cluster):
    cluster.start_coordinator("--worker_wait=0.2s")
    cluster.start_python_worker("python-worker")
    cluster.info(min_workers=1)
    from gpool import Pool
    with Pool(address=cluster.address) as pool:
        with pytest.raises(gpool.PoolError, match="UNAVAILABLE"):
            pool.map("no_such_function", [1])


def test_map_afterClose_raisesValueError(bin_dir, cluster):
    cluster.start_coordinator()
    cluster.start_python_worker("python-worker")
    from gpool import Pool
    pool = Pool(address=cluster.address)
    pool.close()
    with pytest.raises(ValueError, match="not running"):
        pool.map("square", [1])
    pool.join()


def test_imap_afterClose_raisesValueErrorAtCall(bin_dir, cluster):
    cluster.start_coordinator()
    from gpool import Pool
    pool = Pool(address=cluster.address)
    pool.close()
    with pytest.raises(ValueError, match="not running"):
        pool.imap("square", [1])
    pool.join()
