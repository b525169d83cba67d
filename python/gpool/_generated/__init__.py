"""The stubs generated from proto/gpool.proto (gpool_pb2, gpool_pb2_grpc); never committed.

An installed package has them here (written by setup.py's build step). In a source checkout
gpool._stubs generates them into a cache directory keyed by the proto's hash and adds that
directory to this package's __path__.
"""
