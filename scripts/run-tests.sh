#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every ctest test (unit,
# integration with the real binaries, chaos, network partition, Python examples), then the
# docker compose smoke test (docker/smoke-test.sh; it prints SKIPPED only when no Docker
# engine can run on the machine). GPOOL_SKIP_DOCKER=1 leaves the smoke test out.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 300
if [[ "${GPOOL_SKIP_DOCKER:-0}" != "1" ]]; then
  bash docker/smoke-test.sh < /dev/null
fi
