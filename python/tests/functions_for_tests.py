"""Functions the tests map on Python workers (imported by them: --import, or a private
cluster's workers through the registry)."""

import math
import os
import time

import gpool


class CustomError(Exception):
    """An exception class the caller can import (the same module)."""


@gpool.function("test_cube")
def cube(x):
    return x * x * x


@gpool.function("test_fail_on_7")
def fail_on_7(x):
    if x == 7:
        raise CustomError(f"cannot take {x}")
    return x


@gpool.function("test_local_error")
def local_error(x):
    class Hidden(Exception):  # Not importable by the caller: <locals>.
        pass
    raise Hidden(f"hidden {x}")


@gpool.function("test_slow_identity")
def slow_identity(x):
    time.sleep(0.002)
    return x


@gpool.function("test_pid")
def pid(x):
    return os.getpid()


@gpool.function("test_half")
def half(x):
    return x / 2  # A float: not an int64 result.


def plain_double(x):
    """Module-level, undecorated: travels as functions_for_tests.plain_double."""
    return 2 * x


@gpool.function("test_reverse", input_type="string", output_type="string")
def reverse(text):
    return text[::-1]


@gpool.function("test_root", input_type="double", output_type="double")
def root(x):
    return x ** 0.5


@gpool.function("test_double_identity", input_type="double", output_type="double")
def double_identity(x):
    return x


@gpool.function("test_byte_sum", input_type="bytes", output_type="int64")
def byte_sum(data):
    return sum(data)


@gpool.function("test_bytes_reverse", input_type="bytes", output_type="bytes")
def bytes_reverse(data):
    return data[::-1]


@gpool.function("test_repeat", input_type="int64", output_type="string")
def repeat(n):
    return "x" * n


@gpool.function("test_wrong_string", input_type="int64", output_type="string")
def wrong_string(n):
    return n  # An int where a str is declared.


def scale(factor):
    """A closure: travels by value (cloudpickle), not by name."""
    return lambda x: x * factor


@gpool.function("upper", input_type="string", output_type="string")
def upper(text):
    """The C++ built-in's name and types: a job of strings runs on both kinds of worker (the
    tests map ASCII, where the C++ kernel and str.upper agree)."""
    return text.upper()


@gpool.function("sqrt", input_type="double", output_type="double")
def sqrt(x):
    """As the C++ built-in: IEEE sqrt is correctly rounded, so both give the same bits (and a
    negative input is the function's error, ValueError here)."""
    return math.sqrt(x)


@gpool.function("test_surrogate", input_type="string", output_type="string")
def surrogate(text):
    return text + "\ud800"  # A str that UTF-8 cannot encode.
