"""What every gpool program in Python shares: channel options and credentials, the Int128
wire format, and the int64 bounds. The examples in examples/python import it too.
"""

import os

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

# Exact-arithmetic bounds: the largest |x| whose square fits in a signed 64-bit integer.
MAX_SQUARE_INPUT = 3037000499
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
INT128_MIN = -(1 << 127)
INT128_MAX = (1 << 127) - 1


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
