"""gpool from Python: multiprocessing.Pool's API over a gpool cluster.

    from gpool import Pool          # in place of: from multiprocessing import Pool

    def f(x):
        return x * x

    if __name__ == "__main__":
        with Pool() as p:           # a private local cluster; Pool(address=...) for a remote one
            print(sum(p.map(f, range(1, 5001))))

func is a function name (typed elements: int, float, str or bytes, on any worker offering it)
or any Python callable, lambdas and closures included (sent by value to Python workers). See
python/README.md.
"""

from gpool.registry import function  # noqa: F401  (needs no grpc)

__all__ = ["Pool", "AsyncResult", "function", "PoolError", "RemoteError", "RemoteTraceback",
           "TimeoutError", "cpu_count"]


def cpu_count():
    """This machine's cores: what Pool() without an address starts as many workers of."""
    import os
    return os.cpu_count() or 1


def __getattr__(name):
    # The Pool pulls in grpc (about 0.15 s); `import gpool` for the decorator, or
    # gpool._common for the examples, does not.
    if name in ("Pool", "AsyncResult"):
        from gpool import pool
        return getattr(pool, name)
    if name in ("PoolError", "RemoteError", "RemoteTraceback", "TimeoutError"):
        from gpool import errors
        return getattr(errors, name)
    raise AttributeError(f"module 'gpool' has no attribute '{name}'")
