"""What a Python worker does with one chunk: runs the function over its elements a block at a
time, checks every result against the function's output type, and sums them exactly.

The block loop (map(), sum(), min(), max(), which loop in C) bounds the memory of a long
chunk in RESULT_MODE_SUM, and between two blocks the worker checks that the coordinator
still wants the chunk.
"""

import math
import os

from gpool import _common, elements, errors, registry

# How many elements run between two checks that the coordinator still wants the chunk.
CANCEL_POLL_INTERVAL = 1 << 16
# A chunk's string or bytes values: at most 3 MiB (gpool.proto, MapRequest.chunk_size).
MAX_CHUNK_VALUE_BYTES = 3 << 20
# Python's type per output type: a block of exactly these needs no per-element check.
_EXACT_TYPE = {elements.INT64: int, elements.DOUBLE: float, elements.STRING: str,
               elements.BYTES: bytes}


def utf8(text):
    return text.encode("utf-8")


class Converted:
    """A sequence converted element by element as it is sliced (int64 -> double, string ->
    bytes), so a chunk is never converted all at once."""

    def __init__(self, values, convert):
        self._values = values
        self._convert = convert

    def __len__(self):
        return len(self._values)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(map(self._convert, self._values[index]))
        return self._convert(self._values[index])


class Summary:
    """The exact reductions of a chunk's values, block by block."""

    def __init__(self, output_type):
        self.output_type = output_type
        self.count = 0
        self.total = 0  # A Python int: int64's sum, or double's in units of 2^-1074.
        self.nonfinite = 0.0
        self.smallest = self.largest = None

    def add(self, block):
        self.count += len(block)
        if self.output_type == elements.INT64:
            low, high = min(block), max(block)
            self.total += sum(block)
        elif self.output_type == elements.DOUBLE:
            exact, nonfinite, low, high = elements.double_summary(block)
            self.total += exact
            self.nonfinite += nonfinite
            if low > high:  # All NaN: nothing to compare.
                return
        else:
            return
        self.smallest = low if self.smallest is None else min(self.smallest, low)
        self.largest = high if self.largest is None else max(self.largest, high)

    def fill(self, message):
        """Sets a Summary message (nothing for string and bytes outputs)."""
        if self.output_type == elements.INT64:
            summary = message.int64_summary
            summary.SetInParent()
            _common.int_to_int128(self.total, summary.sum)
            if self.count:
                summary.min, summary.max = self.smallest, self.largest
        elif self.output_type == elements.DOUBLE:
            summary = message.double_summary
            summary.SetInParent()
            summary.exact_sum = elements.encode_exact_sum(self.total)
            summary.nonfinite_sum = self.nonfinite
            if self.smallest is None:
                summary.min, summary.max = math.inf, -math.inf
            else:
                summary.min, summary.max = self.smallest, self.largest


def _shown(x):
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_block(name, function, output_type, block, outputs):
    """The block's results as elements of output_type. Raises the function's error: TypeError
    for a result of another type, OverflowError for an int64 result out of range."""
    if set(map(type, outputs)) == {_EXACT_TYPE[output_type]}:
        if output_type != elements.INT64:
            return outputs
        if _common.INT64_MIN <= min(outputs) and max(outputs) <= _common.INT64_MAX:
            return outputs
    checked = []
    for x, value in zip(block, outputs):
        try:
            checked.append(elements.to_element(value, output_type))
        except TypeError:
            raise TypeError(f"{registry.qualified_name(function)}({_shown(x)}) returned "
                            f"{type(value).__name__}; '{name}' returns {output_type} "
                            "(@gpool.function's output_type)") from None
        except OverflowError as error:
            raise OverflowError(f"{registry.qualified_name(function)}({_shown(x)}) = "
                                f"{_shown(value)}: {error}") from None
    return checked


def compute(name, function, signature, chunk, inputs, want_values, context, abort):
    """(values if wanted, Summary) of one chunk. Ends the call through abort(context, code
    name, message): the function's own exception as INVALID_ARGUMENT (OUT_OF_RANGE for an
    OverflowError), final on the caller (gpool.errors); a string or bytes result over 1 MiB,
    or a chunk's values over 3 MiB, as OUT_OF_RANGE; CANCELLED when the coordinator no
    longer wants the chunk."""
    output_type = signature[1]
    values = []
    summary = Summary(output_type)
    value_bytes = 0
    sized = output_type in (elements.STRING, elements.BYTES)
    for start in range(0, len(inputs), CANCEL_POLL_INTERVAL):
        if start and not context.is_active():
            abort(context, "CANCELLED", "chunk cancelled by the coordinator")
        block = inputs[start:start + CANCEL_POLL_INTERVAL]
        try:
            outputs = _check_block(name, function, output_type, block,
                                   list(map(function, block)))
        except Exception as error:  # The function's own error: the job's, not ours.
            abort(context, "OUT_OF_RANGE" if isinstance(error, OverflowError)
                  else "INVALID_ARGUMENT", errors.encode(error, os.getpid()))
        if sized:
            for x, value in zip(block, outputs):
                if output_type == elements.STRING and not value.isascii():
                    try:
                        size = len(value.encode("utf-8"))
                    except UnicodeEncodeError as error:
                        abort(context, "INVALID_ARGUMENT", errors.encode(ValueError(
                            f"{name}({_shown(x)}) returned a str that UTF-8 cannot encode "
                            f"(a string element is UTF-8): {error}"), os.getpid()))
                else:
                    size = len(value)
                if size > elements.MAX_ELEMENT_BYTES:
                    abort(context, "OUT_OF_RANGE",
                          f"{name}({_shown(x)}) returned {size} bytes; a {output_type} "
                          f"result is at most 1 MiB ({elements.MAX_ELEMENT_BYTES} bytes)")
                value_bytes += size
            if want_values and value_bytes > MAX_CHUNK_VALUE_BYTES:
                abort(context, "OUT_OF_RANGE",
                      f"chunk {chunk.chunk_index}: its {output_type} values take more than "
                      f"3 MiB ({MAX_CHUNK_VALUE_BYTES} bytes); map it with a smaller "
                      "chunk_size")
        summary.add(outputs)
        if want_values:
            values.extend(outputs)
    return values, summary
