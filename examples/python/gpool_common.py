"""Pieces shared by the Python client and worker: loading the generated stubs, the Int128
wire format, channel options and credentials, and exit codes.

The stubs are generated, not committed: run generate_stubs.sh DIR and pass --stubs DIR (or
set $GPOOL_PY_STUBS). Without either, the `generated/` directory next to this file is used.
"""

import importlib
import os
import sys

DEFAULT_STUBS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "generated")

# Same limit as the C++ daemons (rpc/transport.h) and gRPC's default: no gpool message is
# larger than 4 MiB in either direction (see "Transport" in gpool.proto).
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # A coordinator that restarts should be reached again within about a heartbeat interval
    # (500 ms): Python's gRPC has no call to dial at once, so the backoff itself stays short.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]

# A role's URI SAN in a gpool certificate (docs/security.md).
ROLE_URI_PREFIX = "spiffe://gpool/"


def credentials_directory(flag_value):
    """--credentials, or $GPOOL_CREDENTIALS; empty: plain text."""
    return flag_value or os.environ.get("GPOOL_CREDENTIALS", "")


def _read(directory, name):
    with open(os.path.join(directory, name), "rb") as file:
        return file.read()


def open_channel(grpc, address, credentials_dir, role):
    """A channel to `address`: plain text without credentials, otherwise mutual TLS against
    the directory's CA, presenting the certificate of `role` ("client" or "worker"). Raises
    OSError when a file cannot be read."""
    if not credentials_dir:
        return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(credentials_dir, "ca.crt"),
        private_key=_read(credentials_dir, f"{role}.key"),
        certificate_chain=_read(credentials_dir, f"{role}.crt"))
    return grpc.secure_channel(address, credentials, options=CHANNEL_OPTIONS)


def server_credentials(grpc, credentials_dir, role):
    """Mutual TLS for a server of `role`: callers must present a certificate of the CA."""
    return grpc.ssl_server_credentials(
        [(_read(credentials_dir, f"{role}.key"), _read(credentials_dir, f"{role}.crt"))],
        root_certificates=_read(credentials_dir, "ca.crt"), require_client_auth=True)


def peer_roles(context):
    """The gpool roles the caller's certificate states (empty over plain text)."""
    uris = context.auth_context().get("peer_uri", [])
    return {uri.decode()[len(ROLE_URI_PREFIX):] for uri in uris
            if uri.decode().startswith(ROLE_URI_PREFIX)}


# Exit codes, the same as the C++ CLI's: 0 ok, 1 the job failed on the cluster, 2 bad usage,
# input or function, 3 coordinator unreachable, no workers, or deadline passed.
EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3

# Exact-arithmetic bounds: the largest |x| whose square fits in a signed 64-bit integer.
MAX_SQUARE_INPUT = 3037000499
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
INT128_MIN = -(1 << 127)
INT128_MAX = (1 << 127) - 1

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


def int128_to_int(message):
    """Decodes an Int128 message (two's complement in two uint64 halves) to a Python int."""
    value = (message.high << 64) | message.low
    return value - (1 << 128) if value >= (1 << 127) else value


def int_to_int128(value, message):
    """Encodes a Python int into an Int128 message; raises OverflowError if it does not fit."""
    if not INT128_MIN <= value <= INT128_MAX:
        raise OverflowError(f"{value} does not fit in a signed 128-bit integer")
    unsigned = value & ((1 << 128) - 1)
    message.high = unsigned >> 64
    message.low = unsigned & ((1 << 64) - 1)
    return message


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
