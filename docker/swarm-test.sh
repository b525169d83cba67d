#!/usr/bin/env bash
# docker/swarm-test.sh: deploys docker/stack.yml on a single-node Docker Swarm on loopback and
# proves it computes, scales and survives a worker's death.
#
#   bash docker/swarm-test.sh          (as root; CI runs it with CI=true and no stdin)
#
# What it does, each step bounded by a timeout:
#  1. A Docker engine (started and stopped again if none runs) and the gpool image, with
#     docker/lib.sh, as docker/smoke-test.sh does: the same tag, so after the smoke test the
#     build is a cache hit.
#  2. Swarm: when the node is in no swarm, `docker swarm init` on 127.0.0.1 (listen and
#     advertise addresses, a free port), and `docker swarm leave --force` at the end whatever
#     happens. A node already in a single-node swarm as a manager is used and left as it was;
#     a node in a larger swarm is refused (the stack's tasks could land on other machines).
#  3. Credentials: `gpool init` (the image's CLI) into the scratch dir; the stack turns the
#     files into Docker secrets. The client gets a directory with ca.crt and its own pair.
#  4. `docker stack deploy` of stack.yml with 3 workers (plus a test-only override: each chunk
#     waits GPOOL_SWARM_CHUNK_DELAY on the workers, so the kill below lands mid-job). Waits for
#     the coordinator to be healthy (gRPC health through `gpool health` in the healthcheck),
#     the 3 workers healthy and registered.
#  5. A client container on the stack's attachable overlay network: `map square 1..5000` gives
#     the exact sum on 3 cores.
#  6. `docker service scale <stack>_worker=4`: the 4th worker registers, and a job's chunks
#     (`--json`, chunks per worker) reach all 4, the new one included.
#  7. A longer job; once a worker holds chunks of it, that task's container is killed with
#     `docker kill`. The sum is exact, the job's statistics show the loss, the dead worker
#     leaves the registry, and swarm's replacement task registers (4 workers again).
#  8. `docker stack rm`, then waits until its containers, network and secrets are gone; leaves
#     the swarm it created (and the docker_gwbridge network that swarm made). The image stays,
#     as in the smoke test.
# Exit codes: 0 passed (or SKIPPED: no Docker engine can run here, outside CI), 1 failed.
#
# Environment knobs (all optional):
#   GPOOL_SWARM_IMAGE          image to build and run          (GPOOL_SMOKE_IMAGE or gpool:smoke)
#   GPOOL_SWARM_STACK          stack name                      (gpoolswarm)
#   GPOOL_SWARM_BIG_N          the killed job maps square over 1..N          (1000000000)
#   GPOOL_SWARM_BIG_CHUNKSIZE  its chunk size                                (10000000)
#   GPOOL_SWARM_CHUNK_DELAY    fault injection: each chunk waits this long   (200ms)
#   GPOOL_SWARM_BUILD_TIMEOUT  seconds allowed for `docker build`            (2700)

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
STACK=${GPOOL_SWARM_STACK:-gpoolswarm}
IMAGE=${GPOOL_SWARM_IMAGE:-${GPOOL_SMOKE_IMAGE:-gpool:smoke}}
BIG_N=${GPOOL_SWARM_BIG_N:-1000000000}
BIG_CHUNKSIZE=${GPOOL_SWARM_BIG_CHUNKSIZE:-10000000}
CHUNK_DELAY=${GPOOL_SWARM_CHUNK_DELAY:-200ms}
BUILD_TIMEOUT=${GPOOL_SWARM_BUILD_TIMEOUT:-2700}
WORKERS=3
SCALED=4
SEED_SUM=41679167500
TEST_LABEL=gpool.swarm-test

# shellcheck source=docker/lib.sh
source "$SCRIPT_DIR/lib.sh"
docker_lib_init swarm
SWARM_CREATED=0
GWBRIDGE_EXISTED=1
STACK_DEPLOYED=0
TIMINGS=()

# --- cleanup -------------------------------------------------------------------------------

stack_leftovers() {
  # Anything of the stack that still exists: containers, networks, secrets (one id a line).
  docker ps -aq --filter "label=com.docker.stack.namespace=$STACK" 2> /dev/null
  docker ps -aq --filter "label=$TEST_LABEL=$STACK" 2> /dev/null
  docker network ls -q --filter "label=com.docker.stack.namespace=$STACK" 2> /dev/null
  docker secret ls -q --filter "label=com.docker.stack.namespace=$STACK" 2> /dev/null
}

stack_gone() { [[ -z $(stack_leftovers) ]]; }

remove_stack() {
  timeout 120 docker stack rm "$STACK" > "$WORK/stack-rm.log" 2>&1 ||
    sed 's/^/    /' "$WORK/stack-rm.log"
  # The client containers are --rm; one of an interrupted run may still be there.
  local ids
  ids=$(docker ps -aq --filter "label=$TEST_LABEL=$STACK" 2> /dev/null || true)
  # shellcheck disable=SC2086
  [[ -z "$ids" ]] || timeout 60 docker rm -f $ids > /dev/null 2>&1 || true
  # `stack rm` returns before the tasks' containers are gone, and the network goes only after
  # them; a second `stack rm` removes what the first could not.
  local deadline=$((SECONDS + 90))
  until stack_gone; do
    if ((SECONDS >= deadline)); then
      log "warning: left over after docker stack rm: $(stack_leftovers | tr '\n' ' ')"
      return 1
    fi
    sleep 1
    timeout 60 docker stack rm "$STACK" > /dev/null 2>&1 || true
  done
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  if ((STACK_DEPLOYED)); then
    if ((status != 0)); then
      local service
      for service in coordinator worker; do
        log "logs of ${STACK}_$service (last 40 lines):"
        timeout 30 docker service logs --no-trunc --tail 40 "${STACK}_$service" 2>&1 | sed 's/^/    /'
      done
      timeout 30 docker service ps --no-trunc "${STACK}_coordinator" "${STACK}_worker" 2>&1 |
        cut -c1-220 | sed 's/^/    /'
    fi
    log "docker stack rm $STACK"
    remove_stack && log "stack $STACK removed (services, containers, network, secrets)"
  fi
  if ((SWARM_CREATED)); then
    log "leaving the swarm this test created"
    timeout 120 docker swarm leave --force > "$WORK/leave.log" 2>&1 || sed 's/^/    /' "$WORK/leave.log"
    if ((!GWBRIDGE_EXISTED)); then
      timeout 60 docker network rm docker_gwbridge > /dev/null 2>&1 ||
        log "warning: could not remove the docker_gwbridge network swarm created"
    fi
  fi
  docker_lib_cleanup
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# step NAME STARTED: records how long a step took, for the summary.
step_done() { TIMINGS+=("$1 $((SECONDS - $2))s"); }

# --- 2. the swarm --------------------------------------------------------------------------

ensure_swarm() {
  local state
  state=$(docker info --format '{{.Swarm.LocalNodeState}}' 2> /dev/null) ||
    die "docker info failed"
  case "$state" in
    inactive)
      docker network inspect docker_gwbridge > /dev/null 2>&1 || GWBRIDGE_EXISTED=0
      local port
      port=$(free_loopback_port)
      log "docker swarm init on 127.0.0.1:$port (loopback only; left again at the end)"
      SWARM_CREATED=1
      timeout 120 docker swarm init --advertise-addr 127.0.0.1 --listen-addr "127.0.0.1:$port" \
        --data-path-addr 127.0.0.1 > "$WORK/swarm-init.log" 2>&1 || {
        sed 's/^/    /' "$WORK/swarm-init.log"
        die "docker swarm init on loopback failed"
      }
      ;;
    active)
      [[ $(docker info --format '{{.Swarm.ControlAvailable}}') == true ]] ||
        die "this node is a swarm worker, not a manager: the test cannot deploy a stack here"
      local nodes
      nodes=$(docker node ls -q | wc -l)
      ((nodes == 1)) ||
        die "this node is in a swarm of $nodes nodes; the test deploys only on a single-node swarm it can keep to this machine"
      log "using the single-node swarm this node is in already (left as it is)"
      ;;
    *) die "the node's swarm state is '$state'; the test needs 'inactive' or 'active'" ;;
  esac
}

# --- 3. credentials ------------------------------------------------------------------------

make_credentials() {
  mkdir -m 0700 "$WORK/credentials" "$WORK/client"
  timeout 60 docker run --rm --network none --user "$(id -u):$(id -g)" \
    -v "$WORK/credentials:/out" "$IMAGE" init /out/tls --host coordinator \
    > "$WORK/init.log" 2>&1 || {
    sed 's/^/    /' "$WORK/init.log"
    die "gpool init failed"
  }
  cp -p "$WORK/credentials/tls/ca.crt" "$WORK/credentials/tls/client.crt" \
    "$WORK/credentials/tls/client.key" "$WORK/client/"
}

# --- 4.-7. the stack -----------------------------------------------------------------------

service_containers() {
  docker ps -q --filter "label=com.docker.swarm.service.name=${STACK}_$1" --filter status=running
}
coordinator_container() { service_containers coordinator | head -n 1; }

healthy() {
  [[ $(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1" 2> /dev/null) == healthy ]]
}
coordinator_healthy() {
  local id
  id=$(coordinator_container)
  [[ -n "$id" ]] && healthy "$id"
}
workers_healthy() {
  # workers_healthy N: N running worker containers, all healthy.
  local id n=0
  for id in $(service_containers worker); do
    healthy "$id" || return 1
    n=$((n + 1))
  done
  ((n == $1))
}

# `gpool status --json` from inside the coordinator's container (it has the client's
# credentials for its health check); cheap enough to poll.
cluster_json() {
  local id
  id=$(coordinator_container)
  [[ -n "$id" ]] || return 1
  timeout 20 docker exec "$id" gpool --coordinator coordinator:50051 status --json 2> /dev/null
}

# Prints the host names of the registered workers, sorted.
registered_hosts() {
  cluster_json | python3 -c 'import json, sys
for w in json.load(sys.stdin)["workers"]: print(w["host"])' | sort
}

registered_workers_are() {
  local hosts
  hosts=$(registered_hosts) || return 1
  [[ $(grep -c . <<< "$hosts") -eq $1 ]]
}

host_not_registered() {
  local hosts
  hosts=$(registered_hosts) || return 1
  ! grep -qxF "$1" <<< "$hosts"
}

# A worker host that has chunks of a running job in flight (none: fails).
busy_worker_host() {
  cluster_json | python3 -c 'import json, sys
view = json.load(sys.stdin)
busy = [w["host"] for w in view["workers"] if w["chunks_in_flight"] > 0]
if not view["jobs"] or not busy: sys.exit(1)
print(busy[0])'
}

# client_run OUT ERR ARGS...: a one-shot client container on the stack's overlay network, with
# only the client's credentials, as docs/docker.md tells a user to run it.
client_run() {
  local out=$1 err=$2
  shift 2
  timeout 300 docker run --rm --network "${STACK}_gpool" --label "$TEST_LABEL=$STACK" \
    --user "$(id -u):$(id -g)" -v "$WORK/client:/credentials:ro" \
    -e GPOOL_CREDENTIALS=/credentials -e GPOOL_COORDINATOR=coordinator:50051 \
    "$IMAGE" "$@" > "$out" 2> "$err"
}

# Prints "HOST CHUNKS" per worker of a job's --json output.
json_chunks_by_host() {
  python3 -c 'import json, sys
for w in json.load(open(sys.argv[1]))["workers"]: print(w["host"], w["chunks"])' "$1"
}

json_field() {
  python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$1" "$2"
}

deploy() {
  # Test-only: each chunk waits on the workers, so a kill lands mid-job however fast the
  # machine is; pinned to this node.
  cat > "$WORK/stack.test.yml" << EOF
version: "3.8"
services:
  coordinator:
    deploy:
      placement:
        constraints: ["node.id == $(docker info --format '{{.Swarm.NodeID}}')"]
  worker:
    environment:
      GPOOL_CHUNK_DELAY: "$CHUNK_DELAY"
    deploy:
      placement:
        constraints: ["node.id == $(docker info --format '{{.Swarm.NodeID}}')"]
EOF
  log "docker stack deploy $STACK: stack.yml with $WORKERS workers (chunks delayed $CHUNK_DELAY)"
  STACK_DEPLOYED=1
  # --resolve-image never: the image is local, and no registry is asked.
  GPOOL_IMAGE=$IMAGE GPOOL_CREDENTIALS_DIR=$WORK/credentials/tls GPOOL_WORKERS=$WORKERS \
    timeout 180 docker stack deploy --detach=true --resolve-image never \
    -c "$SCRIPT_DIR/stack.yml" -c "$WORK/stack.test.yml" "$STACK" > "$WORK/deploy.log" 2>&1 || {
    sed 's/^/    /' "$WORK/deploy.log"
    die "docker stack deploy failed"
  }
}

check_secrets() {
  # The coordinator's secrets: its own pair and the client's (health), never ca.key or a
  # worker's key; keys 0400 for uid 10001.
  local files
  files=$(timeout 20 docker exec "$(coordinator_container)" \
    sh -c 'cd /run/secrets && stat -c "%a %u %n" *' | sort -k3) ||
    die "cannot list /run/secrets in the coordinator's container"
  awk '{ print "    " $0 }' <<< "$files"
  [[ "$files" == $'444 10001 ca.crt\n444 10001 client.crt\n400 10001 client.key\n444 10001 coordinator.crt\n400 10001 coordinator.key' ]] ||
    die "the coordinator's /run/secrets should hold ca.crt, its own and the client's certificate (0444) and key (0400), owned by uid 10001"
}

main() {
  log "gpool docker swarm test (repository $REPO_ROOT)"
  command -v python3 > /dev/null || die "the test needs python3 (JSON and the expected sums)"
  local started=$SECONDS
  ensure_engine
  ensure_base_image "$(dockerfile_base_image)"
  build_gpool_image "$IMAGE" "$BUILD_TIMEOUT"
  step_done engine+image "$started"

  started=$SECONDS
  # A stack of an interrupted earlier run would hold the names.
  stack_gone || { log "removing the leftovers of an earlier run"; remove_stack || true; }
  ensure_swarm
  make_credentials
  deploy
  wait_until "the coordinator healthy (gRPC health)" 120 coordinator_healthy
  wait_until "$WORKERS healthy worker tasks" 120 workers_healthy "$WORKERS"
  wait_until "$WORKERS workers registered" 60 registered_workers_are "$WORKERS"
  step_done deploy "$started"
  log "stack up: coordinator healthy, $WORKERS workers healthy and registered ($((SECONDS - started))s)"
  check_secrets
  log "secrets: mounted as the --credentials layout, keys 0400 for uid 10001, no CA key"

  # 5. the seed job through a client container on the overlay network.
  started=$SECONDS
  log "client: map square 1..5000"
  client_run "$WORK/seed.out" "$WORK/seed.err" map square 1..5000 ||
    { cat "$WORK/seed.err"; die "the seed job failed"; }
  sed 's/^/    /' "$WORK/seed.out"
  expect_line "$WORK/seed.out" "Number of cores available equals $WORKERS" "seed job"
  expect_line "$WORK/seed.out" "The sum of the square of the first 5000 integers is $SEED_SUM" "seed job"
  step_done seed-job "$started"

  # 6. scale up: the new worker registers and computes.
  started=$SECONDS
  local before after new_hosts
  before=$(registered_hosts)
  log "docker service scale ${STACK}_worker=$SCALED"
  timeout 60 docker service scale --detach "${STACK}_worker=$SCALED" > "$WORK/scale.log" 2>&1 || {
    sed 's/^/    /' "$WORK/scale.log"
    die "docker service scale failed"
  }
  wait_until "$SCALED workers registered" 120 registered_workers_are "$SCALED"
  after=$(registered_hosts)
  new_hosts=$(comm -13 <(echo "$before") <(echo "$after"))
  [[ $(grep -c . <<< "$new_hosts") -eq $((SCALED - WORKERS)) ]] ||
    die "after scaling, the registry should hold the $WORKERS workers and $((SCALED - WORKERS)) new; before: ${before//$'\n'/ }; after: ${after//$'\n'/ }"
  log "client: map square 1..5000 --json"
  client_run "$WORK/scaled.json" "$WORK/scaled.err" map square 1..5000 --json ||
    { cat "$WORK/scaled.err"; die "the job after scaling failed"; }
  [[ $(json_field "$WORK/scaled.json" result) == "$SEED_SUM" ]] || die "the job after scaling: wrong sum"
  [[ $(json_field "$WORK/scaled.json" cluster_slots) == "$SCALED" ]] ||
    die "the job after scaling should see $SCALED slots"
  json_chunks_by_host "$WORK/scaled.json" | sed 's/^/    worker host /; s/ \([0-9]*\)$/: \1 chunks/'
  local host
  for host in $after; do
    json_chunks_by_host "$WORK/scaled.json" | awk -v h="$host" '$1 == h && $2 > 0 { ok = 1 } END { exit !ok }' ||
      die "worker $host received no chunk of the job after scaling"
  done
  step_done scale "$started"
  log "scaled to $SCALED: new worker ${new_hosts//$'\n'/ } registered; all $SCALED received chunks ($((SECONDS - started))s)"

  # 7. kill the container of a worker task that holds chunks of a running job.
  started=$SECONDS
  local expected victim_host victim client_pid rc=0
  expected=$(sum_of_squares "$BIG_N")
  log "client: map square 1..$BIG_N --chunksize $BIG_CHUNKSIZE --json (a worker task is killed mid-job)"
  client_run "$WORK/big.json" "$WORK/big.err" map square "1..$BIG_N" --chunksize "$BIG_CHUNKSIZE" --json &
  client_pid=$!
  victim_host=
  local deadline=$((SECONDS + 120))
  until victim_host=$(busy_worker_host); do
    kill -0 "$client_pid" 2> /dev/null || {
      cat "$WORK/big.json" "$WORK/big.err"
      die "the large job ended before a worker could be killed; raise GPOOL_SWARM_BIG_N"
    }
    ((SECONDS < deadline)) || die "no worker held chunks of the large job within 120s"
    sleep 0.2
  done
  # The container's host name is its short id.
  victim=$(service_containers worker | grep -m1 "^$victim_host") ||
    die "no running worker container has the host name $victim_host"
  docker kill "$victim" > /dev/null || die "docker kill $victim failed"
  log "killed worker task container $victim (it held chunks) $((SECONDS - started))s into the job"
  wait "$client_pid" || rc=$?
  ((rc == 0)) || { cat "$WORK/big.json" "$WORK/big.err"; die "the large job failed (exit $rc) after a worker was killed"; }
  local got retries lost
  got=$(json_field "$WORK/big.json" result)
  retries=$(json_field "$WORK/big.json" stats.retries)
  lost=$(json_field "$WORK/big.json" stats.workers_lost)
  [[ "$got" == "$expected" ]] || die "the large job's sum is $got, expected $expected"
  ((retries + lost > 0)) ||
    die "the job's stats show no retry and no lost worker: the kill did not land mid-job"
  log "large job: exact sum $got after losing a worker ($retries retries, $lost workers lost)"
  wait_until "the killed worker to leave the registry" 60 host_not_registered "$victim_host"
  wait_until "swarm's replacement task to register ($SCALED workers)" 120 registered_workers_are "$SCALED"
  step_done kill "$started"
  log "the killed worker left the registry; swarm's replacement registered ($((SECONDS - started))s)"

  log "PASSED: swarm stack on loopback: secrets as credentials, healthy coordinator and $WORKERS workers, seed sum, scaled to $SCALED with all computing, exact sum after a worker task was killed"
  log "timings: ${TIMINGS[*]}; total $((SECONDS - T0))s"
}

main "$@"
