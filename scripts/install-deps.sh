#!/usr/bin/env bash
# Installs, with apt-get, the Debian 12 packages gpool needs that are missing.
#   scripts/install-deps.sh build    # to build and run the binaries
#   scripts/install-deps.sh test     # also GoogleTest, Google Benchmark, Python gRPC
set -euo pipefail

# nlohmann-json3-dev (header-only): the tests parse the CLI's --json output with it.
build_packages=(cmake ninja-build g++ pkg-config libgrpc++-dev protobuf-compiler-grpc
                libprotobuf-dev protobuf-compiler libabsl-dev)
test_packages=(libgtest-dev libgmock-dev libbenchmark-dev python3-grpcio python3-protobuf
               iproute2 nlohmann-json3-dev)

packages=("${build_packages[@]}")
if [[ "${1:-build}" == "test" ]]; then packages+=("${test_packages[@]}"); fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if (( ${#missing[@]} == 0 )); then exit 0; fi

echo "Installing missing packages: ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
