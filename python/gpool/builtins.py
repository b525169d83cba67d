"""The functions every Python worker offers, named as the C++ worker's built-ins (int64 ->
int64; gpool.python.call_batch, bytes -> bytes, is in gpool/python.py)."""

from gpool._common import MAX_SQUARE_INPUT
from gpool.registry import function


class ExactnessError(OverflowError):
    """A result that a signed 64-bit integer cannot hold; the message names the input."""


@function("square")
def square(x):
    if not -MAX_SQUARE_INPUT <= x <= MAX_SQUARE_INPUT:
        raise ExactnessError(
            f"square({x}) does not fit in a signed 64-bit integer; inputs must satisfy "
            f"|x| <= {MAX_SQUARE_INPUT}")
    return x * x


@function("identity")
def identity(x):
    return x
