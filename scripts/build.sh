#!/usr/bin/env bash
# Configures and builds gpool into build/ (binaries in build/bin/).
#   scripts/build.sh seed [CMAKE_ARG...]   # only gpool, gpool-coordinator and gpool-worker:
#                                          # what README command 1 runs (no test packages needed)
#   scripts/build.sh all [CMAKE_ARG...]    # also the tests, the examples and the benchmarks
#   scripts/build.sh configure [...]       # configure `all` without building (CI's check that
#                                          # every package the tests need is found)
# Each run states its options explicitly, so `seed` and `all` can share build/ in either order.
set -euo pipefail
cd "$(dirname "$0")/.."
step=${1:-all}
shift || true
case "$step" in
  seed) options=(-DGPOOL_BUILD_TESTS=OFF -DGPOOL_BUILD_BENCH=OFF)
        targets=(gpool gpool-coordinator gpool-worker) ;;
  all | configure) options=(-DGPOOL_BUILD_TESTS=ON -DGPOOL_BUILD_BENCH=ON); targets=() ;;
  *) echo "usage: scripts/build.sh seed|all|configure [CMAKE_ARG...]" >&2; exit 2 ;;
esac
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${options[@]}" "$@" \
  > build.configure.log || { cat build.configure.log; exit 1; }
rm -f build.configure.log
[[ "$step" == configure ]] && exit 0
ninja -C build "${targets[@]}"
