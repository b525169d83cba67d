#!/usr/bin/env bash
# Generates the Python message and gRPC stubs for proto/gpool.proto into OUT_DIR, with
# Debian's protoc and grpc_python_plugin (no pip, no grpcio-tools).
#
#   examples/python/generate_stubs.sh OUT_DIR
#
# OUT_DIR then holds gpool_pb2.py and gpool_pb2_grpc.py. The generated gpool_pb2_grpc.py does
# `import gpool_pb2`, so OUT_DIR itself (not its parent) must be on sys.path: client.py and
# worker.py take it as --stubs OUT_DIR. Generated code is not committed.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out_dir=$1

# The proto is found relative to this script so the command works from any directory.
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
proto_dir=$(cd "${script_dir}/../../proto" && pwd)

protoc=${PROTOC:-protoc}
plugin=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}
if ! command -v "${protoc}" >/dev/null 2>&1; then
  echo "$0: error: protoc not found; install it with: apt-get install protobuf-compiler" >&2
  exit 1
fi
if [[ ! -x "${plugin}" ]]; then
  echo "$0: error: ${plugin} not found; install it with: apt-get install protobuf-compiler-grpc" >&2
  exit 1
fi

mkdir -p "${out_dir}"
"${protoc}" --python_out="${out_dir}" --grpc_out="${out_dir}" \
  --plugin=protoc-gen-grpc="${plugin}" -I "${proto_dir}" "${proto_dir}/gpool.proto"
echo "generated ${out_dir}/gpool_pb2.py and ${out_dir}/gpool_pb2_grpc.py"
