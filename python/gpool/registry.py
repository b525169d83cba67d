"""Which Python functions a gpool worker offers, and the name a caller maps them by.

A function travels by name, as multiprocessing pickles a function: by reference to its module
and qualified name. The worker must be able to find it:
  * @gpool.function("name", input_type=..., output_type=...) registers a function under a name
    of your choosing with the element types it maps from and to (default int64 -> int64), in
    whatever module it is defined (the worker must import that module: --import, or the main
    script imports it);
  * any other module-level function of the caller's main script travels as "__main__.<name>"
    (a Python worker started with --main SCRIPT loads the script without running its
    `if __name__ == "__main__"` block, as multiprocessing's spawn does), and of a module given
    to the worker with --import as "<module>.<name>", both int64 -> int64.
gpool.Pool sends every other callable (lambdas, closures, undecorated functions) by value, in
bytes elements, to the built-in gpool.python.call_batch (gpool/python.py).
"""

import importlib
import importlib.util
import inspect
import json
import os
import re
import sys

from gpool import elements

# What the protocol accepts as a function name: 1 to 128 bytes of printable ASCII, no spaces.
_NAME = re.compile(r"^[!-~]{1,128}$")
# The module name under which a worker loads the caller's main script.
WORKER_MAIN_MODULE = "__gpool_main__"

# The caller's sys.argv (JSON) for the main script loaded by a worker of a private cluster.
MAIN_ARGV_ENV = "GPOOL_MAIN_ARGV"
# And its sys.path (JSON), so the worker imports what the caller imports.
SYS_PATH_ENV = "GPOOL_CALLER_SYS_PATH"

_registered = {}  # name -> function, of this process


def function(name=None, input_type=elements.INT64, output_type=elements.INT64):
    """Decorator: offer the function on Python workers under `name` (default: its
    module-qualified name), taking elements of `input_type` and returning `output_type`
    ("int64", "double", "string" or "bytes", or an ElementType number)."""
    signature = (elements.parse_type(input_type), elements.parse_type(output_type))

    def register(func):
        chosen = name or qualified_name(func)
        if not _NAME.match(chosen):
            raise ValueError(f"gpool function name {chosen!r}: 1 to 128 printable ASCII "
                             "characters without spaces")
        previous = _registered.get(chosen)
        if previous is not None and previous is not func and \
                qualified_name(previous) != qualified_name(func):
            raise ValueError(f"gpool function name {chosen!r} is already registered for "
                             f"{qualified_name(previous)}")
        _registered[chosen] = func
        func.__gpool_name__ = chosen
        func.__gpool_signature__ = signature
        return func

    if callable(name):  # Used bare: @gpool.function
        func, name = name, None
        return register(func)
    return register


def signature_of(func):
    """(input_type, output_type) a worker offers `func` with: its @gpool.function types, or
    int64 -> int64."""
    return getattr(func, "__gpool_signature__", (elements.INT64, elements.INT64))


def registered():
    """name -> function: what this process registered with @gpool.function."""
    return dict(_registered)


def qualified_name(func):
    module = func.__module__
    if module in ("__main__", "__mp_main__", WORKER_MAIN_MODULE):
        module = "__main__"
    return f"{module}.{func.__qualname__}"


def name_of(func):
    """The name a caller maps `func` by (a name as is, an @gpool.function's name), or None
    for a callable that travels by value (gpool.python.call_batch). TypeError for what is
    neither."""
    if isinstance(func, str):
        if not _NAME.match(func):
            raise ValueError(f"function name {func!r}: 1 to 128 printable ASCII characters "
                             "without spaces")
        return func
    if not callable(func):
        raise TypeError(f"func must be a function or a function name, not "
                        f"{type(func).__name__}")
    return getattr(func, "__gpool_name__", None) or None


def load_main(path):
    """Loads the caller's main script as module __gpool_main__ (its `if __name__ ==
    '__main__'` block does not run) and returns it."""
    path = os.path.abspath(path)
    sys.path.insert(0, os.path.dirname(path))
    # As multiprocessing's spawn: the script sees the caller's command line.
    argv = os.environ.get(MAIN_ARGV_ENV)
    if argv is not None:
        sys.argv = json.loads(argv)
    spec = importlib.util.spec_from_file_location(WORKER_MAIN_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[WORKER_MAIN_MODULE] = module
    spec.loader.exec_module(module)
    return module


def module_functions(module):
    """name -> function for every function defined at the top level of `module`."""
    return {qualified_name(value): value for value in vars(module).values()
            if inspect.isfunction(value) and value.__module__ == module.__name__}


def worker_functions(main_path=None, modules=()):
    """Everything a worker offers: the built-ins, the registered functions, and the
    module-level functions of the main script and of `modules` (imported here)."""
    importlib.import_module("gpool.builtins")
    importlib.import_module("gpool.python")
    caller_path = os.environ.get(SYS_PATH_ENV)
    if caller_path is not None:
        sys.path.extend(entry for entry in json.loads(caller_path) if entry not in sys.path)
    functions = {}
    if main_path:
        functions.update(module_functions(load_main(main_path)))
    for name in modules:
        functions.update(module_functions(importlib.import_module(name)))
    # Registered names last: a chosen name wins over a qualified one.
    functions.update(_registered)
    return functions
