#!/usr/bin/env bash
# Installs, with apt-get, the Debian 12 packages gpool needs that are missing, then checks that
# what the chosen step runs is really there.
#   scripts/install-deps.sh build    # build and run the three binaries (README command 1)
#   scripts/install-deps.sh test     # everything the whole test suite runs (README command 2)
# A bare debian:bookworm (minbase: apt and the essential packages, nothing else) is the
# reference: nothing outside these lists may be assumed. docker/fresh-machine-test.sh proves it
# in a container on every CI run.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-build}
case "$mode" in
  build | test) ;;
  *) echo "usage: scripts/install-deps.sh build|test" >&2; exit 2 ;;
esac

# The three binaries: compiler, CMake + Ninja, gRPC 1.51, protobuf 3.21 and Abseil (static
# archives included in the -dev packages); libssl-dev: OpenSSL's libcrypto for `gpool init` and
# the sha256 built-in; prometheus-cpp 1.0 for the daemons' /metrics.
build_packages=(cmake ninja-build g++ pkg-config libgrpc++-dev protobuf-compiler-grpc
                libprotobuf-dev protobuf-compiler libabsl-dev libssl-dev prometheus-cpp-dev)
# The tests, as README command 2 runs them:
#   GoogleTest/GoogleMock and Google Benchmark (bench_smoke);
#   nlohmann-json3-dev: the CLI's --json output is checked with an independent parser;
#   python3 + python3-grpcio + python3-protobuf: the Python examples (Debian's /usr/bin/python3);
#   python3-pytest: the gpool package's tests (python/tests); python3-setuptools: its build
#   step (python/setup.py); python3-cloudpickle: its Pool sends lambdas and closures by value;
#   iproute2: the network-partition tests (`ip netns`);
#   docker.io, docker-compose, debootstrap, git: the compose smoke test and the fresh-machine
#   test (a Docker engine, the debian:bookworm base image built with debootstrap, a clean
#   clone of the commit);
#   clang, libclang-rt-14-dev, libfuzzer-14-dev: the sanitizer build and the libFuzzer
#   harnesses (scripts/run-sanitizers.sh);
#   prometheus (2.42: the server and promtool): the metrics tests scrape a real cluster with
#   it and check /metrics and deploy/prometheus/ with promtool.
test_packages=(libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev
               python3 python3-grpcio python3-protobuf python3-pytest python3-setuptools
               python3-cloudpickle iproute2
               docker.io docker-compose debootstrap git
               clang libclang-rt-14-dev libfuzzer-14-dev prometheus)
# Installed only when their program is missing, as "program package": the Helm chart's check
# (scripts/check-helm.sh) runs node and npm, and Debian's nodejs 18 and npm 9 do; a machine
# with another Node.js (nodesource's bundles its own npm, which conflicts with Debian's) keeps it.
test_programs_or_packages=("node nodejs" "npm npm")

# What each step runs, as "program package": checked after the install, so that a package that
# installs under another name, or a program a test calls that no listed package provides, fails
# here with its name instead of deep inside a test.
build_programs=("cmake cmake" "ninja ninja-build" "g++ g++" "protoc protobuf-compiler"
                "grpc_cpp_plugin protobuf-compiler-grpc")
test_programs=("ctest cmake" "grpc_python_plugin protobuf-compiler-grpc" "/usr/bin/python3 python3"
               "ip iproute2" "dockerd docker.io" "docker docker.io" "docker-compose docker-compose"
               "debootstrap debootstrap" "git git" "script bsdutils" "stdbuf coreutils"
               "timeout coreutils" "tar tar" "awk mawk" "clang++ clang" "sha256sum coreutils"
               "prometheus prometheus" "promtool prometheus")
# The Python modules the Python tests import that are not the standard library's, and their
# packages. Every import of examples/python is compared with this list (check_python_modules).
python_modules=("grpc python3-grpcio" "google.protobuf python3-protobuf" "pytest python3-pytest"
                "setuptools python3-setuptools" "cloudpickle python3-cloudpickle")

packages=("${build_packages[@]}")
programs=("${build_programs[@]}")
if [[ "$mode" == test ]]; then
  packages+=("${test_packages[@]}")
  programs+=("${test_programs[@]}" "${test_programs_or_packages[@]}")
  for entry in "${test_programs_or_packages[@]}"; do
    read -r program package <<< "$entry"
    command -v "$program" > /dev/null || packages+=("$package")
  done
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if (( ${#missing[@]} > 0 )); then
  echo "Installing missing packages: ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  # Through env, so that sudo (which resets the environment) passes them on. On a minbase
  # system debconf would warn that apt-utils is missing: noise, not a problem.
  $sudo env DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes \
    apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" > /dev/null
fi

problems=()
for entry in "${programs[@]}"; do
  read -r program package <<< "$entry"
  command -v "$program" > /dev/null || problems+=("program '$program' (Debian package $package)")
done

# Every module the Python tests import must be the standard library's, one of theirs, a stub
# generated at test time (*_pb2, *_pb2_grpc), or listed above; and every listed one must import
# under /usr/bin/python3 (a pyenv python3 earlier on PATH cannot see Debian's modules).
check_python_modules() {
  local listed
  listed=$(printf '%s\n' "${python_modules[@]}")
  /usr/bin/python3 - "$listed" examples/python python <<'PY'
import ast, importlib, pathlib, sys
listed = dict(line.split() for line in sys.argv[1].splitlines())
roots = [pathlib.Path(p) for p in sys.argv[2:]]
files = [f for root in roots for f in root.rglob("*.py")]
local = {f.stem for f in files} | {f.parent.name for f in files if f.name == "__init__.py"}
imported = set()
for f in files:
    for node in ast.walk(ast.parse(f.read_text(), str(f))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            imported.add(node.args[0].value)  # importlib.import_module("grpc")
problems = []
for name in sorted(imported):
    top = name.split(".")[0]
    if top in sys.stdlib_module_names or top in local or top.endswith(("_pb2", "_pb2_grpc")):
        continue
    if not any(name == m or name.startswith(m + ".") or m.startswith(name + ".") for m in listed):
        problems.append(f"Python module '{name}' is imported by the tests but not listed in "
                        "scripts/install-deps.sh (python_modules)")
for module, package in listed.items():
    try:
        importlib.import_module(module)
    except ImportError as error:
        problems.append(f"Python module '{module}' (Debian package {package}): {error}")
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
}
if [[ "$mode" == test ]]; then
  if [[ ! -x /usr/bin/python3 ]]; then
    problems+=("program '/usr/bin/python3' (Debian package python3)")
  elif ! python_problems=$(check_python_modules); then
    while IFS= read -r line; do [[ -n "$line" ]] && problems+=("$line"); done <<< "$python_problems"
    # A checker that crashed (its traceback went to stderr) named nothing: still a failure.
    [[ -n "$python_problems" ]] || problems+=("the check of the Python tests' imports failed to run")
  fi
fi

if (( ${#problems[@]} > 0 )); then
  echo "scripts/install-deps.sh $mode: missing after the install:" >&2
  printf '  %s\n' "${problems[@]}" >&2
  exit 1
fi
