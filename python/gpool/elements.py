"""Typed elements (gpool.proto: ElementType, Elements, Summary) in Python terms.

The four element types and their Python values: int64 (int in [-2^63, 2^63-1]), double
(float), string (str), bytes (bytes). Summaries of numeric values combine exactly: an int64
chunk's sum is a Python int (it travels as Int128), a double chunk's is the exact sum of its
finite values as an integer in units of 2^-1074 (DoubleSummary.exact_sum), so partial sums
add in any order to the same correctly rounded total, the one math.fsum gives.

Imports no grpc: the messages are passed in by callers that loaded the stubs.
"""

import math

from gpool import _common

INT64, DOUBLE, STRING, BYTES = "int64", "double", "string", "bytes"
TYPES = (INT64, DOUBLE, STRING, BYTES)
# ElementType's numbers (gpool.proto): ELEMENT_TYPE_INT64 = 1, ... BYTES = 4.
_NUMBER = {INT64: 1, DOUBLE: 2, STRING: 3, BYTES: 4}
_NAME = {number: name for name, number in _NUMBER.items()}
# The Elements oneof member that holds each type.
FIELD = {INT64: "int64s", DOUBLE: "doubles", STRING: "strings", BYTES: "blobs"}
_TYPE_OF_FIELD = {field: name for name, field in FIELD.items()}

# One string or bytes element, in an input or a result (gpool.proto, Elements).
MAX_ELEMENT_BYTES = 1 << 20
# The exact sum's scale: the smallest subnormal double is 2^-1074.
EXACT_SUM_SCALE_BITS = 1074


def parse_type(value):
    """"int64" | "double" | "string" | "bytes", from that name (any case, "ELEMENT_TYPE_"
    prefix allowed) or an ElementType number; ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value in _NAME:
            return _NAME[value]
    elif isinstance(value, str):
        name = value.lower()
        if name.startswith("element_type_"):
            name = name[len("element_type_"):]
        if name in _NUMBER:
            return name
    raise ValueError(f"element type {value!r}: use one of {', '.join(TYPES)}")


def type_number(name):
    """The ElementType number of a type name."""
    return _NUMBER[parse_type(name)]


def accepts(function_input, element_type):
    """Whether a function declared to take `function_input` takes elements of
    `element_type` (gpool.proto, FunctionSignature: int64 -> double, string -> bytes)."""
    return (function_input == element_type or
            (function_input == DOUBLE and element_type == INT64) or
            (function_input == BYTES and element_type == STRING))


def type_of_value(value):
    """The element type a Python value travels as; TypeError for others."""
    if isinstance(value, bool):
        return INT64  # As operator.index takes it.
    if isinstance(value, int):
        return INT64
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str):
        return STRING
    if isinstance(value, (bytes, bytearray, memoryview)):
        return BYTES
    if hasattr(value, "__index__"):  # numpy integers and the like.
        return INT64
    raise TypeError(f"a {type(value).__name__} is not a gpool element (int, float, str or "
                    "bytes)")


def to_element(value, element_type):
    """`value` as an element of `element_type` (int, float, str or bytes); TypeError or
    OverflowError saying why it cannot be one."""
    if element_type == INT64:
        import operator
        result = operator.index(value)
        if not _common.INT64_MIN <= result <= _common.INT64_MAX:
            raise OverflowError(f"{result} does not fit in a signed 64-bit integer")
        return result
    if element_type == DOUBLE:
        if isinstance(value, float):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)  # OverflowError beyond the largest double.
        raise TypeError(f"a {type(value).__name__} is not a double (float)")
    if element_type == STRING:
        if not isinstance(value, str):
            raise TypeError(f"a {type(value).__name__} is not a string (str)")
        return value
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"a {type(value).__name__} is not bytes")


def values_of(elements):
    """(type, values) of an Elements message; (None, ()) when it holds none."""
    field = elements.WhichOneof("kind")
    if field is None:
        return None, ()
    return _TYPE_OF_FIELD[field], getattr(elements, field).values


def fill(elements, element_type, values):
    """Sets `elements` (an Elements message) to `values` of `element_type`."""
    member = getattr(elements, FIELD[element_type])
    member.SetInParent()
    member.values.extend(values)
    return elements


# --- summaries --------------------------------------------------------------------------------


def int64_summary(values):
    """(sum, min, max) of int64 values, exact; min and max are 0 for no values."""
    if not values:
        return 0, 0, 0
    return sum(values), min(values), max(values)


def exact_units(x):
    """A finite double as an exact integer in units of 2^-1074."""
    numerator, denominator = x.as_integer_ratio()
    # The denominator is a power of two of at most 2^1074: the shift is exact.
    return numerator << (EXACT_SUM_SCALE_BITS + 1 - denominator.bit_length())


def double_summary(values):
    """(exact_sum, nonfinite_sum, min, max) of doubles, as DoubleSummary holds them:
    exact_sum the exact sum of the finite values in units of 2^-1074 (a Python int),
    nonfinite_sum the IEEE sum of the infinities and NaNs (0.0 when none), min and max over
    the values that are not NaN (+inf and -inf when there are none)."""
    exact = 0
    nonfinite = 0.0
    finite = []
    for x in values:
        if math.isfinite(x):
            finite.append(x)
        else:
            nonfinite += x
    if finite:
        exact = sum(map(exact_units, finite))
    ordered = [x for x in values if x == x] if nonfinite != 0.0 or len(finite) != len(values) \
        else values
    if ordered:
        smallest, largest = min(ordered), max(ordered)
    else:
        smallest, largest = math.inf, -math.inf
    return exact, nonfinite, smallest, largest


def encode_exact_sum(value):
    """DoubleSummary.exact_sum's bytes: little-endian two's complement, minimal length, empty
    for 0."""
    if value == 0:
        return b""
    length = ((value if value >= 0 else ~value).bit_length() + 8) // 8
    return value.to_bytes(length, "little", signed=True)


def decode_exact_sum(data):
    return int.from_bytes(data, "little", signed=True)


def exact_sum_to_double(units, nonfinite_sum=0.0):
    """A double job's sum: the exact sum (units of 2^-1074) correctly rounded (half to even,
    as math.fsum), +-inf beyond the largest double; the non-finite sum when it is not 0."""
    if nonfinite_sum != 0.0 or nonfinite_sum != nonfinite_sum:
        return nonfinite_sum
    try:
        # int / int is correctly rounded in CPython.
        return units / (1 << EXACT_SUM_SCALE_BITS)
    except OverflowError:
        return math.inf if units > 0 else -math.inf


def summary_agrees(summary, element_type, values):
    """Whether a Summary message is the one `values` have (what a client checks)."""
    kind = summary.WhichOneof("kind")
    if element_type == INT64:
        if kind != "int64_summary":
            return False
        total, smallest, largest = int64_summary(values)
        message = summary.int64_summary
        return (_common.int128_to_int(message.sum) == total and
                (not values or (message.min, message.max) == (smallest, largest)))
    if element_type == DOUBLE:
        if kind != "double_summary":
            return False
        exact, nonfinite, smallest, largest = double_summary(values)
        message = summary.double_summary
        return (decode_exact_sum(message.exact_sum) == exact and
                _same_double(message.nonfinite_sum, nonfinite) and
                _same_double(message.min, smallest) and _same_double(message.max, largest))
    return kind is None


def _same_double(a, b):
    return a == b or (a != a and b != b)
