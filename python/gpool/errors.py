"""How an exception in a user's function travels from a Python worker to the caller.

A worker answers a chunk whose function raised with a status the coordinator passes to the
client as the job's final error, without retrying it anywhere (gpool.proto, Worker.RunChunks):
OUT_OF_RANGE for an OverflowError (a result that int64 cannot hold), INVALID_ARGUMENT for any
other exception. Its message carries a marker line naming the exception's class, the
exception's text, and the worker's traceback:

    [gpool-exception builtins.ZeroDivisionError pid=4242]
    division by zero
    --- remote traceback ---
    Traceback (most recent call last): ...

The caller raises the same class where it can import it and build it from one string, with
the traceback in the message and as __cause__ (a RemoteTraceback, like multiprocessing's);
otherwise RemoteError. Errors without the marker (a C++ worker's, the coordinator's own):
INVALID_ARGUMENT raises ValueError, OUT_OF_RANGE OverflowError, anything else PoolError.
"""

import builtins
import importlib
import re
import traceback

_MARKER = re.compile(r"\[gpool-exception ([^\s\]]+) pid=(\d+)\]\n")
_TRACEBACK_SEPARATOR = "\n--- remote traceback ---\n"
# The whole message travels in an HTTP/2 trailer: keep it well under gRPC's 8 KiB default.
MAX_TRACEBACK_CHARS = 4000
MAX_TEXT_CHARS = 1000

TimeoutError = builtins.TimeoutError  # multiprocessing.TimeoutError's role, for get(timeout).


class PoolError(RuntimeError):
    """The cluster failed the job (not the function): code is the grpc.StatusCode's name."""

    def __init__(self, code, message):
        super().__init__(f"{message} ({code})")
        self.code = code


class RemoteError(Exception):
    """A worker's exception whose class cannot be imported or built here."""


class RemoteTraceback(Exception):
    """The __cause__ of a re-raised remote exception: the worker's traceback."""

    def __init__(self, text):
        super().__init__(text)
        self.text = text

    def __str__(self):
        return self.text


def encode(error, pid):
    """The status message for a function's exception (worker side)."""
    cls = type(error)
    text = str(error)[:MAX_TEXT_CHARS]
    trace = "".join(traceback.format_exception(cls, error, error.__traceback__))
    if len(trace) > MAX_TRACEBACK_CHARS:
        trace = "...\n" + trace[-MAX_TRACEBACK_CHARS:]
    return (f"[gpool-exception {cls.__module__}.{cls.__qualname__} pid={pid}]\n{text}"
            f"{_TRACEBACK_SEPARATOR}{trace}")


def _find_class(qualified):
    module_name, _, rest = qualified.partition(".")
    # The class's module is the longest importable prefix.
    parts = qualified.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name, attributes = ".".join(parts[:split]), parts[split:]
        if module_name in ("__main__", "__gpool_main__"):
            module_name = "__main__"
        try:
            value = importlib.import_module(module_name)
        except ImportError:
            continue
        try:
            for attribute in attributes:
                value = getattr(value, attribute)
        except AttributeError:
            return None
        return value if isinstance(value, type) and issubclass(value, Exception) else None
    return None


def decode(code_name, details):
    """The exception to raise on the caller for a failed job's status."""
    match = _MARKER.search(details)
    if match is None:
        if code_name == "INVALID_ARGUMENT":
            return ValueError(details)
        if code_name == "OUT_OF_RANGE":
            return OverflowError(details)
        return PoolError(code_name, details)
    qualified, pid = match.group(1), match.group(2)
    body = details[match.end():]
    text, _, trace = body.partition(_TRACEBACK_SEPARATOR)
    remote = RemoteTraceback(f'\n"""\n{trace}"""')
    message = f"{text}\n\nRemote traceback (gpool worker pid {pid}):\n{trace}"
    cls = _find_class(qualified)
    error = None
    if cls is not None:
        try:
            error = cls(message)
        except Exception:  # A class that takes other arguments.
            error = None
    if error is None:
        error = RemoteError(f"{qualified}: {message}")
    error.__cause__ = remote
    return error
