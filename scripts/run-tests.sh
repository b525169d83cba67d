#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every ctest test (unit,
# integration with the real binaries, Python examples).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 300
