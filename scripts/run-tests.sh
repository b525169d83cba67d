#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every ctest test (unit,
# integration with the real binaries, chaos, network partition, Python examples), the offline
# checks of the Helm chart (scripts/check-helm.sh: helm lint, helm template with several value
# sets, every object against the Kubernetes API schemas), then the same suite again under
# AddressSanitizer and UndefinedBehaviorSanitizer with the fuzz harnesses
# (scripts/run-sanitizers.sh), then the tests that need a Docker engine (docker/smoke-test.sh:
# the compose deployment; docker/swarm-test.sh: the swarm stack on a single-node swarm, with
# the smoke test's image; docker/fresh-machine-test.sh: the README's commands on a bare
# debian:bookworm). They start
# dockerd themselves when none runs. GPOOL_SKIP_DOCKER=1 leaves them out (never in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
scripts/build.sh all
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 300
scripts/check-helm.sh
scripts/run-sanitizers.sh
if [[ "${GPOOL_SKIP_DOCKER:-0}" == "1" ]]; then
  [[ "${CI:-}" != "true" ]] || { echo "GPOOL_SKIP_DOCKER=1 is not allowed in CI" >&2; exit 1; }
  echo "GPOOL_SKIP_DOCKER=1: the docker smoke, swarm and fresh-machine tests did not run" >&2
  exit 0
fi
bash docker/smoke-test.sh < /dev/null
bash docker/swarm-test.sh < /dev/null
bash docker/fresh-machine-test.sh < /dev/null
