"""Loading (and, in a source checkout, generating) the stubs of proto/gpool.proto.

The generated code is never committed and never stale:
  * an installed package carries the stubs its build step generated from the proto it was
    built from (setup.py calls generate() below);
  * a source checkout (python/ on PYTHONPATH) generates them on first import into
    $GPOOL_STUBS_CACHE (default ~/.cache/gpool/stubs), in a directory named by the hash of
    proto/gpool.proto: editing the proto selects a new directory, so an old one is never used.
Generation uses Debian's protoc and grpc_python_plugin through
examples/python/generate_stubs.sh, the one script that knows the command.

This module imports no grpc, so setup.py can load it on its own.
"""

import hashlib
import importlib
import os
import subprocess
import tempfile

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_SOURCE_ROOT = os.path.dirname(os.path.dirname(_PACKAGE_DIR))
SOURCE_PROTO = os.path.join(_SOURCE_ROOT, "proto", "gpool.proto")
GENERATE_SCRIPT = os.path.join(_SOURCE_ROOT, "examples", "python", "generate_stubs.sh")

INSTALL_HINT = ("install Debian's packages: apt-get install python3-grpcio python3-protobuf "
                "protobuf-compiler-grpc (and run with /usr/bin/python3, or a venv made with "
                "--system-site-packages, which sees them)")


class StubsError(ImportError):
    pass


def generate(out_dir, script=GENERATE_SCRIPT):
    """Writes gpool_pb2.py and gpool_pb2_grpc.py into out_dir, importable as a package's
    modules (the generated `import gpool_pb2` becomes a relative import)."""
    result = subprocess.run([script, out_dir], capture_output=True, text=True)
    if result.returncode != 0:
        raise StubsError(f"{script} failed ({result.returncode}): {result.stderr.strip()}")
    grpc_module = os.path.join(out_dir, "gpool_pb2_grpc.py")
    with open(grpc_module) as file:
        text = file.read()
    text = text.replace("\nimport gpool_pb2 as gpool__pb2\n",
                        "\nfrom . import gpool_pb2 as gpool__pb2\n")
    with open(grpc_module, "w") as file:
        file.write(text)


def _cache_directory():
    with open(SOURCE_PROTO, "rb") as file:
        digest = hashlib.sha256(file.read()).hexdigest()[:16]
    root = os.environ.get("GPOOL_STUBS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "gpool", "stubs")
    return os.path.join(root, digest)


def _source_tree_stubs():
    directory = _cache_directory()
    if os.path.isfile(os.path.join(directory, "gpool_pb2_grpc.py")):
        return directory
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    # Generated aside and renamed into place: a concurrent importer sees all or nothing.
    scratch = tempfile.mkdtemp(prefix=".generating-", dir=parent)
    generate(scratch)
    try:
        os.rename(scratch, directory)
    except OSError:
        # Another process got there first with the same content.
        subprocess.run(["rm", "-rf", scratch], check=False)
    return directory


def load():
    """Returns (grpc, gpool_pb2, gpool_pb2_grpc); raises StubsError saying what to install."""
    try:
        grpc = importlib.import_module("grpc")
        importlib.import_module("google.protobuf")
    except ImportError as error:
        raise StubsError(f"{error}; {INSTALL_HINT}") from error
    package = importlib.import_module("gpool._generated")
    if not os.path.isfile(os.path.join(_PACKAGE_DIR, "_generated", "gpool_pb2_grpc.py")):
        if not os.path.isfile(SOURCE_PROTO):
            raise StubsError("this gpool package has no generated stubs and no "
                             f"{SOURCE_PROTO} to generate them from; reinstall it with "
                             "pip install --no-build-isolation ./python")
        directory = _source_tree_stubs()
        if directory not in package.__path__:
            package.__path__.append(directory)
    return (grpc, importlib.import_module("gpool._generated.gpool_pb2"),
            importlib.import_module("gpool._generated.gpool_pb2_grpc"))
