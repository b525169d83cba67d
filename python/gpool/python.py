"""Python callables by value: the built-in gpool.python.call_batch (bytes -> bytes).

A lambda, a closure or any callable that exists only in the caller cannot be found by name
on a worker; gpool.Pool sends it with its arguments instead, as multiprocessing.Pool sends a
task. One bytes element is one Pool chunk:

    input   cloudpickle.dumps((func, [arg, arg, ...]))
    output  pickle.dumps([func(arg), func(arg), ...])
            or pickle.dumps(Failure(position, message)): func raised for args[position]
            (message as gpool.errors.encode writes it: the class, text and traceback),
            or pickle.dumps(Oversized(size)): the results pickle to more than an element may
            hold (1 MiB); the caller runs those arguments again in smaller pieces.

No protocol change: the coordinator sees a bytes -> bytes function. Whoever may submit jobs
runs code on the Python workers (with TLS, the holders of a client certificate), as with any
function a worker offers.
"""

import os
import pickle

from gpool import elements, errors
from gpool.registry import function

CALL_BATCH = "gpool.python.call_batch"


class Failure:
    """func raised for the argument at `position` of the batch."""

    def __init__(self, position, message):
        self.position = position
        self.message = message

    def error(self):
        """The exception to raise on the caller (gpool.errors.decode)."""
        return errors.decode("INVALID_ARGUMENT", self.message)


class Oversized:
    """The batch's results pickle to `size` bytes, more than one element may hold."""

    def __init__(self, size):
        self.size = size


def _star(func, args):
    return func(*args)


def _call(func, kwargs, args):
    return func(*args, **kwargs)


def _dumps(value):
    try:
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    except Exception:  # A result pickle cannot take (a lambda, a local class): by value.
        import cloudpickle
        return cloudpickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _failure(position, error):
    return pickle.dumps(Failure(position, errors.encode(error, os.getpid())),
                        pickle.HIGHEST_PROTOCOL)


@function(CALL_BATCH, input_type=elements.BYTES, output_type=elements.BYTES)
def call_batch(payload):
    try:
        func, args = pickle.loads(payload)
    except Exception as error:  # A module the worker cannot import, a broken payload.
        return _failure(0, error)
    results = []
    for position, argument in enumerate(args):
        try:
            results.append(func(argument))
        except Exception as error:
            return _failure(position, error)
    try:
        data = _dumps(results)
    except Exception:
        for position, result in enumerate(results):
            try:
                _dumps(result)
            except Exception as error:
                return _failure(position, error)
        raise
    if len(data) > elements.MAX_ELEMENT_BYTES:
        return pickle.dumps(Oversized(len(data)), pickle.HIGHEST_PROTOCOL)
    return data
