#!/usr/bin/env bash
# docker/fresh-machine-test.sh: the README's two commands on a bare machine, which the machine
# that runs the tests cannot show (it has every package already).
#
#   bash docker/fresh-machine-test.sh    (as root; README command 2 and so CI run it)
#
# Each part runs in a new container of debian:bookworm as debootstrap --variant=minbase makes
# it (apt and the essential packages, no compiler, no python3, no git), as root, on a clean
# clone of the commit at HEAD (uncommitted changes are not part of it):
#  1. README command 1, `scripts/run-seed.sh`, end to end: it must print the seed's two lines,
#     having installed only the build packages (no test package) and built only the three
#     binaries (no test).
#  2. README command 2's install step, `scripts/install-deps.sh test` (which fails naming any
#     program or Python module the tests run that is still missing), then the configure with
#     the tests and benchmarks enabled, which fails naming any package CMake cannot find.
# Exit codes: 0 passed (or SKIPPED outside CI when no Docker engine can run), 1 failed.
#
# Environment knobs (optional):
#   GPOOL_FRESH_TIMEOUT   seconds each container may take          (2400)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
CONTAINER_TIMEOUT=${GPOOL_FRESH_TIMEOUT:-2400}
# shellcheck source=docker/lib.sh
source "$SCRIPT_DIR/lib.sh"
docker_lib_init fresh
CONTAINERS=()

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  local name
  for name in "${CONTAINERS[@]}"; do timeout 60 docker rm -f "$name" > /dev/null 2>&1; done
  docker_lib_cleanup
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# clean_clone DIR: the commit at HEAD, as `git clone` gives it to a new user.
clean_clone() {
  git clone -q --no-hardlinks "$REPO_ROOT" "$1" || die "git clone of $REPO_ROOT failed"
  git -C "$1" checkout -q --detach "$COMMIT" || die "checkout of $COMMIT failed"
}

# in_container NAME SRC LOG SCRIPT: runs bash SCRIPT as root in a new container of the base
# image, with the clone SRC at /src, the host's network (for apt only; the seed job itself
# uses loopback), output to LOG. Returns the script's exit status.
in_container() {
  local name=$1 src=$2 logfile=$3 script=$4
  CONTAINERS+=("$name")
  timeout "$CONTAINER_TIMEOUT" docker run --rm --name "$name" --network host \
    -v "$src:/src" -w /src "$BASE" bash -euo pipefail -c "$script" > "$logfile" 2>&1
}

main() {
  command -v git > /dev/null || die "git is needed to clone the commit (apt-get install git)"
  COMMIT=$(git -C "$REPO_ROOT" rev-parse HEAD)
  log "gpool fresh-machine test of commit ${COMMIT:0:12} ($(git -C "$REPO_ROOT" log -1 --format=%s))"
  [[ -z "$(git -C "$REPO_ROOT" status --porcelain --untracked-files=no)" ]] ||
    log "note: the work tree has uncommitted changes; only the commit is tested"
  ensure_engine
  BASE=$(dockerfile_base_image)
  ensure_base_image "$BASE"

  # 1. README command 1 on a bare machine.
  clean_clone "$WORK/seed"
  local started=$SECONDS
  log "container 1: scripts/run-seed.sh on a bare $BASE (log: $WORK/seed.log)"
  # After the seed job: which test packages got installed, and whether anything but the three
  # binaries was built. Both must be nothing.
  # shellcheck disable=SC2016 # expanded in the container
  if ! in_container "gpool-fresh-seed-$$" "$WORK/seed" "$WORK/seed.log" '
      scripts/run-seed.sh
      echo "cores: $(nproc)"
      for p in libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev python3-grpcio; do
        if dpkg-query -W -f="\${Status}" "$p" 2>/dev/null | grep -q "install ok installed"; then
          echo "test package installed: $p"
        fi
      done
      ls build/bin | sed "s/^/built: /"'; then
    tail -n 40 "$WORK/seed.log" | sed 's/^/    /'
    die "README command 1 (scripts/run-seed.sh) failed on a bare $BASE"
  fi
  local seconds=$((SECONDS - started)) cores
  cores=$(sed -n 's/^cores: //p' "$WORK/seed.log")
  grep -qxF "Number of cores available equals $cores" "$WORK/seed.log" ||
    { tail -n 20 "$WORK/seed.log"; die "the seed job did not print 'Number of cores available equals $cores'"; }
  grep -qxF "The sum of the square of the first 5000 integers is 41679167500" "$WORK/seed.log" ||
    { tail -n 20 "$WORK/seed.log"; die "the seed job did not print the exact sum"; }
  if grep -q '^test package installed: ' "$WORK/seed.log"; then
    grep '^test package installed: ' "$WORK/seed.log"
    die "README command 1 installed packages only the tests need"
  fi
  local built
  built=$(sed -n 's/^built: //p' "$WORK/seed.log" | sort | tr '\n' ' ')
  [[ "$built" == "gpool gpool-coordinator gpool-worker " ]] ||
    die "README command 1 should build only gpool, gpool-coordinator and gpool-worker; build/bin has: $built"
  grep -E '^(Number of cores|The sum of)' "$WORK/seed.log" | sed 's/^/    /'
  log "README command 1 passed on a bare $BASE in ${seconds}s (apt-get install, build, seed job)"

  # 2. README command 2's install step and the configure of the tests.
  clean_clone "$WORK/tests"
  started=$SECONDS
  log "container 2: scripts/install-deps.sh test + configure with the tests (log: $WORK/tests.log)"
  if ! in_container "gpool-fresh-tests-$$" "$WORK/tests" "$WORK/tests.log" '
      scripts/install-deps.sh test
      scripts/build.sh configure
      echo "configured with the tests"'; then
    tail -n 40 "$WORK/tests.log" | sed 's/^/    /'
    die "README command 2's install step or the configure with the tests failed on a bare $BASE"
  fi
  grep -qx "configured with the tests" "$WORK/tests.log" || die "container 2 did not finish"
  log "README command 2's install step and the configure with the tests passed on a bare $BASE in $((SECONDS - started))s"
  log "PASSED: both README commands' install steps on a bare $BASE ($((SECONDS - T0))s)"
}

main "$@"
