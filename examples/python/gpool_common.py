"""Pieces shared by the Python client and worker: loading the generated stubs, exit codes and
range parsing; channel options, credentials and the Int128 format come from the gpool package.

The stubs are generated, not committed: run generate_stubs.sh DIR and pass --stubs DIR (or
set $GPOOL_PY_STUBS). Without either, the `generated/` directory next to this file is used.
"""

import importlib
import os
import sys

# The shared pieces live in the gpool package (python/gpool/_common.py); these scripts take
# them from the source tree, whether or not the package is installed.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "python"))
from gpool._common import (  # noqa: E402,F401  (re-exported for client.py and worker.py)
    CHANNEL_OPTIONS, INT128_MAX, INT128_MIN, INT64_MAX, INT64_MIN, MAX_MESSAGE_BYTES,
    MAX_SQUARE_INPUT, ROLE_URI_PREFIX, credentials_directory, int128_to_int, int_to_int128,
    open_channel, peer_roles, server_credentials)

DEFAULT_STUBS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "generated")

# Exit codes, the same as the C++ CLI's: 0 ok, 1 the job failed on the cluster, 2 bad usage,
# input or function, 3 coordinator unreachable, no workers, or deadline passed.
EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3

INSTALL_HINT = ("install Debian's packages: apt-get install python3-grpcio python3-protobuf "
                "protobuf-compiler-grpc (and run this with /usr/bin/python3, which sees them)")


def fail(program, message, exit_code):
    print(f"{program}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(exit_code)


def load_stubs(program, stubs_dir):
    """Imports grpc, gpool_pb2 and gpool_pb2_grpc; exits with a clear message if any is missing.

    Returns (grpc, gpool_pb2, gpool_pb2_grpc).
    """
    try:
        grpc = importlib.import_module("grpc")
        importlib.import_module("google.protobuf")
    except ImportError as error:
        fail(program, f"{error} ({sys.executable}); {INSTALL_HINT}", EXIT_BAD_INPUT)
    stubs_dir = stubs_dir or os.environ.get("GPOOL_PY_STUBS") or DEFAULT_STUBS_DIR
    if not os.path.isfile(os.path.join(stubs_dir, "gpool_pb2_grpc.py")):
        here = os.path.dirname(os.path.abspath(__file__))
        fail(program,
             f"no generated stubs in {stubs_dir}; generate them with "
             f"{os.path.join(here, 'generate_stubs.sh')} {stubs_dir}", EXIT_BAD_INPUT)
    # gpool_pb2_grpc.py imports gpool_pb2 as a top-level module, so the directory itself
    # goes on the path.
    sys.path.insert(0, os.path.abspath(stubs_dir))
    return grpc, importlib.import_module("gpool_pb2"), importlib.import_module("gpool_pb2_grpc")


def parse_range(text):
    """Parses 'A..B' (inclusive, A <= B, both int64). Raises ValueError with a clear message."""
    start_text, separator, end_text = text.partition("..")
    if not separator:
        raise ValueError(f"range '{text}' is not A..B (e.g. 1..5000)")
    try:
        start, end = int(start_text), int(end_text)
    except ValueError:
        raise ValueError(f"range '{text}' is not A..B with integer bounds (e.g. 1..5000)")
    for bound in (start, end):
        if not INT64_MIN <= bound <= INT64_MAX:
            raise ValueError(f"range bound {bound} does not fit in a signed 64-bit integer")
    if start > end:
        raise ValueError(f"range '{text}' is empty: start must be <= end")
    return start, end


def status_exit_code(grpc, code):
    """The CLI's exit code for a gRPC status code (see the EXIT_* constants)."""
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OUT_OF_RANGE,
                grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNIMPLEMENTED,
                grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.RESOURCE_EXHAUSTED,
                grpc.StatusCode.PERMISSION_DENIED):
        return EXIT_BAD_INPUT
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return EXIT_UNAVAILABLE
    return EXIT_JOB_FAILED
