#!/usr/bin/env bash
# docker/smoke-test.sh: builds the gpool image and proves the compose deployment works.
#
#   bash docker/smoke-test.sh          (as root; CI runs it with CI=true and no stdin)
#
# What it does, each step bounded by a timeout:
#  1. Finds a Docker engine, or starts `dockerd` (installing Debian's docker.io if needed) and
#     stops that dockerd, and only that one, at the end. If no engine can be started at all it
#     prints one line with SKIPPED and the reason and exits 0.
#  2. Builds the base image the Dockerfile names (debian:bookworm) with debootstrap from the
#     Debian mirror configured in apt + `docker import`, only when that image is missing.
#  3. Builds the gpool image with `docker build --network host`.
#  4. Starts docker-compose.yml + docker-compose.hostnet.yml (every service on the host
#     network, coordinator on a free loopback port, workers on 127.0.0.1:0) with 3 workers.
#     Its `credentials` service creates the credentials in the project's volume; every
#     service talks mutual TLS with them. Checks the files' owners and modes, that the CA's
#     key is out of the daemons' reach, and that a client without credentials is refused.
#  5. Through the client container: the seed job's exact sum, `info` listing 3 distinct
#     workers (the same PIDs as the 3 worker containers), the trace showing all 3 computing.
#  6. Kills one worker container in the middle of a large map and checks the exact sum, that
#     the job saw the loss (retries / workers lost) and that the dead worker leaves `info`.
#  7. A second `up` keeps the credentials (the same CA) and the cluster still computes.
#  8. Tears everything down (compose down -v, leftover containers, networks and volumes)
#     whatever happened.
# The images it builds (the base and gpool:smoke) are kept as a cache for the next run.
#
# Environment knobs (all optional):
#   GPOOL_SMOKE_IMAGE          image tag to build and run            (gpool:smoke)
#   GPOOL_SMOKE_PROJECT        compose project name                  (gpoolsmoke)
#   GPOOL_SMOKE_PORT           coordinator port on 127.0.0.1         (a free port)
#   GPOOL_SMOKE_BIG_N          the killed job maps square over 1..N  (1000000000)
#   GPOOL_SMOKE_CHUNK_DELAY    fault injection: each chunk waits this long on the workers (200ms)
#   GPOOL_SMOKE_BIG_CHUNKSIZE  its chunk size                        (10000000)
#   GPOOL_SMOKE_BUILD_TIMEOUT  seconds allowed for `docker build`    (2700)
#   GPOOL_SMOKE_COMPOSE_EXTRA  more compose override files, colon-separated (none)
# Exit codes: 0 passed (or SKIPPED: no Docker engine can run here), 1 failed.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
PROJECT=${GPOOL_SMOKE_PROJECT:-gpoolsmoke}
IMAGE=${GPOOL_SMOKE_IMAGE:-gpool:smoke}
BIG_N=${GPOOL_SMOKE_BIG_N:-1000000000}
BIG_CHUNKSIZE=${GPOOL_SMOKE_BIG_CHUNKSIZE:-10000000}
BUILD_TIMEOUT=${GPOOL_SMOKE_BUILD_TIMEOUT:-2700}
WORKERS=3
SEED_SUM=41679167500

# shellcheck source=docker/lib.sh
source "$SCRIPT_DIR/lib.sh"
docker_lib_init smoke
STACK_STARTED=0
COMPOSE=()

# --- cleanup -------------------------------------------------------------------------------

compose() { "${COMPOSE[@]}" "$@"; }

remove_project_leftovers() {
  # Containers and networks of this project that compose did not remove (one-off `run`
  # containers of an interrupted run, for instance).
  local ids
  ids=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null || true)
  if [[ -n "$ids" ]]; then
    # shellcheck disable=SC2086
    timeout 60 docker rm -f $ids > /dev/null 2>&1 || true
  fi
  ids=$(docker network ls -q --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null ||
    true)
  if [[ -n "$ids" ]]; then
    # shellcheck disable=SC2086
    timeout 60 docker network rm $ids > /dev/null 2>&1 || true
  fi
  ids=$(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null ||
    true)
  if [[ -n "$ids" ]]; then
    # shellcheck disable=SC2086
    timeout 60 docker volume rm $ids > /dev/null 2>&1 || true
  fi
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  if ((STACK_STARTED)); then
    if ((status != 0)); then
      log "logs of the stack (last 40 lines per service):"
      timeout 60 "${COMPOSE[@]}" logs --no-color --tail 40 2>&1 | sed 's/^/    /'
    fi
    log "tearing down compose project $PROJECT"
    timeout 120 "${COMPOSE[@]}" down --remove-orphans --volumes --timeout 5 > "$WORK/down.log" 2>&1 ||
      sed 's/^/    /' "$WORK/down.log"
    remove_project_leftovers
  fi
  docker_lib_cleanup
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. a Docker engine, 2. the base image: docker/lib.sh ------------------------------------

ensure_compose() {
  if docker compose version > /dev/null 2>&1; then
    COMPOSE=(docker compose)
  elif command -v docker-compose > /dev/null; then
    COMPOSE=(docker-compose)
  else
    apt_install docker-compose || die "neither 'docker compose' nor docker-compose is available"
    COMPOSE=(docker-compose)
  fi
  log "compose: ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2> /dev/null || echo '?'))"
  COMPOSE+=(-p "$PROJECT" -f "$SCRIPT_DIR/docker-compose.yml" -f "$SCRIPT_DIR/docker-compose.hostnet.yml")
  local extra extras=${GPOOL_SMOKE_COMPOSE_EXTRA:-}
  for extra in ${extras//:/ }; do COMPOSE+=(-f "$extra"); done
}

# --- 4.-6. the stack -------------------------------------------------------------------------

worker_containers() { compose ps -q worker 2> /dev/null | sort; }
coordinator_container() { compose ps -q coordinator 2> /dev/null | head -n 1; }

all_workers_healthy() {
  local ids id n=0
  ids=$(worker_containers)
  for id in $ids; do
    [[ $(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" 2> /dev/null) == healthy ]] ||
      return 1
    n=$((n + 1))
  done
  ((n == WORKERS))
}

# info through the coordinator container (cheap enough to poll).
coordinator_info() {
  timeout 20 docker exec "$(coordinator_container)" gpool --coordinator "127.0.0.1:$GPOOL_PORT" info
}

# The credentials as the daemons see them: "MODE UID NAME" per file, sorted.
credential_files() {
  timeout 20 docker exec "$(coordinator_container)" \
    sh -c 'cd /credentials/tls && stat -c "%a %u %n" *' | sort -k3
}

ca_fingerprint() {
  timeout 20 docker exec "$(coordinator_container)" sha256sum /credentials/tls/ca.crt |
    cut -d' ' -f1
}

# Prints the PIDs in the table of `gpool info` (column 3 under the WORKER header).
info_pids() { awk 'seen && NF >= 6 { print $3 } $1 == "WORKER" { seen = 1 }' | sort -u; }

registered_workers_are() {
  # registered_workers_are N: `info` lists exactly N workers.
  local out
  out=$(coordinator_info 2> /dev/null) || return 1
  [[ $(info_pids <<< "$out" | wc -l) -eq $1 ]]
}

pid_not_registered() {
  local out
  out=$(coordinator_info 2> /dev/null) || return 1
  ! info_pids <<< "$out" | grep -qx "$1"
}

client_run() {
  # client_run OUT ERR ARGS...: one-shot client container, as a user would run it.
  local out=$1 err=$2
  shift 2
  timeout 300 "${COMPOSE[@]}" run --rm -T client "$@" > "$out" 2> "$err"
}

main() {
  log "gpool docker smoke test (repository $REPO_ROOT)"
  ensure_engine
  ensure_compose
  ensure_base_image "$(dockerfile_base_image)"
  build_gpool_image "$IMAGE" "$BUILD_TIMEOUT"

  GPOOL_PORT=${GPOOL_SMOKE_PORT:-$(free_loopback_port)}
  export GPOOL_PORT GPOOL_IMAGE=$IMAGE
  # A leftover of an interrupted earlier run would hold names and ports.
  remove_project_leftovers
  STACK_STARTED=1
  local started=$SECONDS
  log "compose up: coordinator on 127.0.0.1:$GPOOL_PORT, $WORKERS workers, host network"
  timeout 300 "${COMPOSE[@]}" up -d --no-build --scale "worker=$WORKERS" > "$WORK/up.log" 2>&1 || {
    sed 's/^/    /' "$WORK/up.log"
    die "compose up failed"
  }
  wait_until "$WORKERS healthy worker containers" 120 all_workers_healthy
  wait_until "$WORKERS workers registered with the coordinator" 60 registered_workers_are "$WORKERS"
  log "stack up and healthy in $((SECONDS - started))s"

  # 4b. the credentials the `credentials` service made, and that they are really required.
  compose logs --no-color credentials > "$WORK/credentials.log" 2>&1 || true
  grep -q 'credentials created in /credentials/tls' "$WORK/credentials.log" || {
    sed 's/^/    /' "$WORK/credentials.log"
    die "the credentials service did not create the credentials"
  }
  local files
  files=$(credential_files) || die "cannot list /credentials/tls in the coordinator container"
  awk '{ print "    " $0 }' <<< "$files"
  [[ "$files" == $'644 10001 ca.crt\n644 10001 client.crt\n600 10001 client.key\n644 10001 coordinator.crt\n600 10001 coordinator.key\n644 10001 worker.crt\n600 10001 worker.key' ]] ||
    die "/credentials/tls should hold ca.crt and a certificate (0644) and key (0600) per role, owned by uid 10001, and no ca.key"
  if timeout 20 docker exec "$(coordinator_container)" cat /credentials/ca-key/ca.key > /dev/null 2>&1; then
    die "the coordinator's user can read the CA's key"
  fi
  local ca_before rc=0
  ca_before=$(ca_fingerprint) || die "cannot read ca.crt in the coordinator container"
  log "credentials: created in the volume, keys 0600 for uid 10001, CA key out of reach"
  log "client without credentials: info (must be refused)"
  timeout 300 "${COMPOSE[@]}" run --rm -T -e GPOOL_CREDENTIALS= client info \
    > "$WORK/plain.out" 2> "$WORK/plain.err" || rc=$?
  sed 's/^/    /' "$WORK/plain.err" | grep -v -e '^    Creating ' -e '^    Starting ' || true
  if ((rc != 3)) || ! grep -q 'refused the session: the cluster uses TLS' "$WORK/plain.err"; then
    die "a client without credentials should fail the TLS handshake with exit 3 (exit $rc)"
  fi

  # Which host PIDs the worker containers have (`pid: host` in the override).
  local container_pids
  container_pids=$(for id in $(worker_containers); do docker inspect -f '{{.State.Pid}}' "$id"; done | sort -u)

  # 5a. the seed job, exactly as a user runs it.
  log "client: map square 1..5000"
  client_run "$WORK/seed.out" "$WORK/seed.err" map square 1..5000 ||
    { cat "$WORK/seed.err"; die "the seed job failed"; }
  expect_line "$WORK/seed.out" "Number of cores available equals $WORKERS" "seed job"
  expect_line "$WORK/seed.out" "The sum of the square of the first 5000 integers is $SEED_SUM" "seed job"
  sed 's/^/    /' "$WORK/seed.out"

  # 5b. info: three distinct workers, the three worker containers.
  log "client: info"
  client_run "$WORK/info.out" "$WORK/info.err" info || { cat "$WORK/info.err"; die "info failed"; }
  sed 's/^/    /' "$WORK/info.out"
  local info_pid_list
  info_pid_list=$(info_pids < "$WORK/info.out")
  [[ $(wc -l <<< "$info_pid_list") -eq $WORKERS ]] || die "info should list $WORKERS distinct worker PIDs"
  [[ $(awk 'seen && NF >= 6 { print $NF } $1 == "WORKER" { seen = 1 }' "$WORK/info.out" | sort -u | wc -l) -eq $WORKERS ]] ||
    die "info should list $WORKERS distinct worker addresses"
  [[ "$info_pid_list" == "$container_pids" ]] ||
    die "info's PIDs (${info_pid_list//$'\n'/ }) are not the worker containers' PIDs (${container_pids//$'\n'/ })"

  # 5c. the trace: every element computed once, by all three workers.
  log "client: map square 1..5000 --trace"
  client_run "$WORK/trace.out" "$WORK/trace.err" map square 1..5000 --trace ||
    { cat "$WORK/trace.err"; die "the traced job failed"; }
  expect_line "$WORK/trace.out" "The sum of the square of the first 5000 integers is $SEED_SUM" "traced job"
  local traced
  traced=$(grep -c '^Worker .* calculating square of ' "$WORK/trace.out" || true)
  [[ "$traced" -eq 5000 ]] || die "the trace should have 5000 lines, has $traced"
  awk '/^Worker .* calculating square of / { split($2, w, "@"); n[w[1]]++ }
    END { for (p in n) printf "    worker pid %s computed %d elements\n", p, n[p] }' "$WORK/trace.out"
  local trace_pids
  trace_pids=$(awk '/^Worker .* calculating square of / { split($2, w, "@"); print w[1] }' \
    "$WORK/trace.out" | sort -u)
  [[ "$trace_pids" == "$info_pid_list" ]] ||
    die "all $WORKERS workers should have computed chunks; the trace shows PIDs ${trace_pids//$'\n'/ }"

  # 6. kill a worker container in the middle of a large map.
  local expected victim victim_pid coordinator before client_pid deadline running_since=
  expected=$(sum_of_squares "$BIG_N")
  victim=$(worker_containers | head -n 1)
  victim_pid=$(docker inspect -f '{{.State.Pid}}' "$victim")
  coordinator=$(coordinator_container)
  before=$(docker logs "$coordinator" 2>&1 | grep -c ' planned: ' || true)
  log "client: map square 1..$BIG_N --chunksize $BIG_CHUNKSIZE --stats (killing worker pid $victim_pid mid-job)"
  started=$SECONDS
  timeout 300 "${COMPOSE[@]}" run --rm -T client map square "1..$BIG_N" \
    --chunksize "$BIG_CHUNKSIZE" --stats > "$WORK/big.out" 2> "$WORK/big.err" &
  client_pid=$!
  # The job is under way once the coordinator logs its plan, or at the latest 2s after the
  # client container is running; whether the kill really hit the job is checked below from the
  # job's own statistics, not assumed.
  deadline=$((SECONDS + 120))
  while :; do
    kill -0 "$client_pid" 2> /dev/null || {
      cat "$WORK/big.out" "$WORK/big.err"
      die "the large job ended before a worker could be killed; raise GPOOL_SMOKE_BIG_N"
    }
    (($(docker logs "$coordinator" 2>&1 | grep -c ' planned: ' || true) > before)) && break
    if [[ -n $(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" \
      --filter "label=com.docker.compose.oneoff=True" --filter status=running) ]]; then
      running_since=${running_since:-$SECONDS}
      ((SECONDS - running_since >= 2)) && break
    fi
    ((SECONDS < deadline)) || die "the large job did not start within 120s"
    sleep 0.2
  done
  sleep 1 # let every worker hold chunks of the job
  docker kill "$victim" > /dev/null || die "docker kill $victim failed"
  log "killed worker container ${victim:0:12} (pid $victim_pid) $((SECONDS - started))s into the job"
  rc=0
  wait "$client_pid" || rc=$?
  sed 's/^/    /' "$WORK/big.out" "$WORK/big.err" | grep -v -e '^    Creating ' -e '^    Starting ' || true
  ((rc == 0)) || die "the large job failed (exit $rc) after a worker was killed"
  expect_line "$WORK/big.out" "The sum of the square of the first $BIG_N integers is $expected" "large job"
  local retries lost
  retries=$(grep -oE '[0-9]+ retr(y|ies)' "$WORK/big.err" | head -n 1 | cut -d' ' -f1)
  lost=$(grep -oE '[0-9]+ workers? lost' "$WORK/big.err" | head -n 1 | cut -d' ' -f1)
  ((${retries:-0} + ${lost:-0} > 0)) ||
    die "the job's stats show no retry and no lost worker: the kill did not land mid-job (job took $((SECONDS - started))s)"
  log "large job: exact sum after losing a worker ($retries retries, $lost workers lost) in $((SECONDS - started))s"
  wait_until "the killed worker to leave the registry" 60 pid_not_registered "$victim_pid"
  log "the killed worker (pid $victim_pid) left the registry"

  # 7. a second `up` keeps the credentials: `gpool init` is not run again.
  log "compose up again: the credentials must be kept"
  timeout 300 "${COMPOSE[@]}" up -d --no-build --scale "worker=$WORKERS" > "$WORK/up2.log" 2>&1 || {
    sed 's/^/    /' "$WORK/up2.log"
    die "the second compose up failed"
  }
  compose logs --no-color credentials > "$WORK/credentials.log" 2>&1 || true
  grep -q 'keeping the credentials in /credentials/tls' "$WORK/credentials.log" || {
    sed 's/^/    /' "$WORK/credentials.log"
    die "the credentials service should have kept the credentials on the second up"
  }
  [[ $(ca_fingerprint) == "$ca_before" ]] || die "the second up replaced the CA"
  client_run "$WORK/seed2.out" "$WORK/seed2.err" map square 1..5000 ||
    { cat "$WORK/seed2.err"; die "the seed job failed after the second up"; }
  expect_line "$WORK/seed2.out" "The sum of the square of the first 5000 integers is $SEED_SUM" "seed job after the second up"
  log "second up: same CA, exact seed sum"

  log "PASSED: mutual TLS with the volume's credentials (kept on a second up), seed sum, $WORKERS distinct workers computing, exact sum after a worker was killed ($((SECONDS - T0))s)"
}

main "$@"
