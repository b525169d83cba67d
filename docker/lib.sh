# shellcheck shell=bash
# docker/lib.sh: what the tests that need a Docker engine share (sourced, never run).
#
#   source docker/lib.sh
#   docker_lib_init TAG       # log prefix and scratch dir $WORK (the caller's EXIT trap calls
#                             # docker_lib_cleanup, which removes it and stops our dockerd)
#   ensure_engine             # a running engine, or `dockerd` started (and stopped at exit)
#   ensure_base_image IMAGE   # debian:bookworm built with debootstrap when no registry has it
#   build_gpool_image IMAGE SECONDS   # docker build --network host of docker/Dockerfile
#   sum_of_squares N, free_loopback_port, expect_line FILE LINE WHAT
#
# Used by docker/smoke-test.sh (the compose deployment), docker/swarm-test.sh (the swarm
# stack) and docker/fresh-machine-test.sh (the README's commands on a bare machine). Each step is bounded by a timeout. A caller that sets
# its own EXIT trap calls docker_lib_cleanup from it.

export DEBIAN_FRONTEND=noninteractive
STARTED_DOCKERD_PID=
APT_UPDATED=0
T0=$SECONDS
LOG_TAG=docker
WORK=

docker_lib_init() {
  LOG_TAG=$1
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpool-$LOG_TAG.XXXXXX")
}

log() { printf '[%s %4ds] %s\n' "$LOG_TAG" "$((SECONDS - T0))" "$*"; }
die() {
  log "FAILED: $*"
  exit 1
}
# No Docker engine can run here: a skip on a developer's machine, a failure in CI (CI=true),
# which exists to prove what these tests test.
skip() {
  [[ "${CI:-}" == "true" ]] && die "no Docker engine, and CI must run this test: $*"
  echo "SKIPPED: docker $LOG_TAG test: $*"
  exit 0
}

# wait_until DESCRIPTION SECONDS COMMAND...: polls COMMAND every half second until it succeeds;
# fails the test when the deadline passes.
wait_until() {
  local what=$1 limit=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < deadline)) || die "timed out after ${limit}s waiting for $what"
    sleep 0.5
  done
}

apt_install() {
  # apt_install PACKAGE...: installs Debian packages (root only); returns non-zero on failure.
  [[ $(id -u) -eq 0 ]] || return 1
  command -v apt-get > /dev/null || return 1
  if ((!APT_UPDATED)); then
    log "apt-get update"
    timeout 300 apt-get update -qq > "$WORK/apt-update.log" 2>&1 || return 1
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  timeout 900 apt-get install -y -qq --no-install-recommends "$@" > "$WORK/apt-install.log" 2>&1
}

# --- small helpers ---------------------------------------------------------------------------

sum_of_squares() {
  # Exact sum of x^2 for x in 1..n: n(n+1)(2n+1)/6 (beyond 64 bits, hence python3 or bc).
  local n=$1
  if command -v python3 > /dev/null; then
    python3 -c "n = $n; print(n * (n + 1) * (2 * n + 1) // 6)"
  elif command -v bc > /dev/null; then
    echo "$n * ($n + 1) * (2 * $n + 1) / 6" | BC_LINE_LENGTH=0 bc
  else
    die "need python3 or bc to compute the expected sum"
  fi
}

free_loopback_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

expect_line() {
  # expect_line FILE LINE WHAT
  grep -qxF "$2" "$1" || {
    sed 's/^/    /' "$1" | tail -n 20
    die "$3: expected the line '$2'"
  }
}

# --- the engine ------------------------------------------------------------------------------

engine_answers() { timeout 15 docker info > /dev/null 2>&1; }

stop_started_dockerd() {
  [[ -n "$STARTED_DOCKERD_PID" ]] || return 0
  log "stopping the dockerd this script started (pid $STARTED_DOCKERD_PID)"
  kill -TERM "$STARTED_DOCKERD_PID" 2> /dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$STARTED_DOCKERD_PID" 2> /dev/null && ((SECONDS < deadline)); do
    sleep 0.5
  done
  if kill -0 "$STARTED_DOCKERD_PID" 2> /dev/null; then
    log "dockerd did not stop within 30s; sending SIGKILL"
    kill -KILL "$STARTED_DOCKERD_PID" 2> /dev/null || true
  fi
  wait "$STARTED_DOCKERD_PID" 2> /dev/null || true
  STARTED_DOCKERD_PID=
}

start_dockerd() {
  # start_dockerd LABEL [DOCKERD OPTION...]: starts dockerd in the background and waits until
  # it answers; on failure stops it again and returns non-zero.
  local label=$1
  shift
  local logfile="$WORK/dockerd-$label.log"
  log "starting dockerd ($label${*:+: $*}); its log: $logfile"
  dockerd "$@" > "$logfile" 2>&1 &
  STARTED_DOCKERD_PID=$!
  local deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$STARTED_DOCKERD_PID" 2> /dev/null; then
      wait "$STARTED_DOCKERD_PID" 2> /dev/null || true
      STARTED_DOCKERD_PID=
      log "dockerd ($label) exited: $(grep -E 'level=(error|fatal)|failed' "$logfile" |
        tail -n 1 | cut -c1-300)"
      return 1
    fi
    if engine_answers; then
      log "dockerd ($label) is up (pid $STARTED_DOCKERD_PID)"
      return 0
    fi
    sleep 1
  done
  log "dockerd ($label) did not answer within 60s"
  stop_started_dockerd
  return 1
}

ensure_engine() {
  if command -v docker > /dev/null && engine_answers; then
    log "using the running Docker engine ($(docker version --format '{{.Server.Version}}' 2> /dev/null))"
    return
  fi
  if [[ -n "${DOCKER_HOST:-}" ]]; then
    log "DOCKER_HOST=$DOCKER_HOST does not answer; using the local engine instead"
    unset DOCKER_HOST
    if command -v docker > /dev/null && engine_answers; then return; fi
  fi
  [[ $(id -u) -eq 0 ]] || skip "no Docker engine answers and starting dockerd needs root"
  if ! command -v dockerd > /dev/null || ! command -v docker > /dev/null; then
    apt_install docker.io || skip "no Docker engine and docker.io could not be installed ($(tail -n 1 "$WORK"/apt-*.log 2> /dev/null | cut -c1-200))"
  fi
  # Plain first; then without the iptables/bridge setup a sandbox may refuse (the tests use
  # the host network only); then also with the vfs storage driver when overlay mounts fail.
  start_dockerd default ||
    start_dockerd no-bridge --iptables=false --bridge=none ||
    start_dockerd vfs --iptables=false --bridge=none --storage-driver=vfs ||
    skip "no Docker engine answers and dockerd would not start here (logs tried: default, no-bridge, vfs)"
}

# --- the base image ----------------------------------------------------------------------------

# The base image docker/Dockerfile names (ARG DEBIAN_IMAGE=...): debian:bookworm.
dockerfile_base_image() {
  local base
  base=$(sed -n 's/^ARG DEBIAN_IMAGE=//p' "$(dirname "${BASH_SOURCE[0]}")/Dockerfile" | head -n 1)
  [[ -n "$base" ]] || die "cannot find 'ARG DEBIAN_IMAGE=' in docker/Dockerfile"
  echo "$base"
}

# Prints "URI SUITE" for every deb source apt is configured with (one-line and deb822 forms).
apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } print $i, $(i + 1) }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      { types = ""; uris = ""; suites = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/) types = $i
          if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) { suites = $i; sub(/^Suites:[ \t]*/, "", suites) }
          if ($i ~ /^Enabled:[ \t]*no/) enabled = "no"
        }
        if (types !~ /[ \t]deb([ \t]|$)/ || enabled == "no") next
        nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
        for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++) if (u[a] != "") print u[a], s[b] }' "$f"
  done
}

# ensure_base_image IMAGE: IMAGE (debian:bookworm) is present, or is built as the official
# image is: debootstrap --variant=minbase (nothing but apt and the essential packages, no
# build tools), imported with `docker import`.
ensure_base_image() {
  local base=$1 suite mirror rootfs
  if docker image inspect "$base" > /dev/null 2>&1; then
    log "base image $base: present"
    return
  fi
  case "${base#*:}" in
    12 | 12.* | bookworm*) suite=bookworm ;;
    *) suite=${base#*:} ;;
  esac
  apt_sources > "$WORK/apt-sources.txt" || true
  mirror=$(awk -v s="$suite" '$2 == s { print $1; exit }' "$WORK/apt-sources.txt")
  mirror=${mirror:-http://deb.debian.org/debian}
  log "base image $base: missing; building it with debootstrap $suite from $mirror"
  [[ $(id -u) -eq 0 ]] || die "building the base image with debootstrap needs root"
  command -v debootstrap > /dev/null || apt_install debootstrap || die "cannot install debootstrap"
  rootfs=$WORK/rootfs
  local started=$SECONDS
  timeout 1200 debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" \
    > "$WORK/debootstrap.log" 2>&1 || {
    tail -n 20 "$WORK/debootstrap.log"
    die "debootstrap failed"
  }
  # The same suites apt uses on this machine (release, -updates, -security), like the
  # official image's sources.
  awk -v s="$suite" '$2 == s || index($2, s "-") == 1 { print "deb " $1 " " $2 " main" }' \
    "$WORK/apt-sources.txt" | sort -u > "$rootfs/etc/apt/sources.list.new"
  if [[ -s "$rootfs/etc/apt/sources.list.new" ]]; then
    mv "$rootfs/etc/apt/sources.list.new" "$rootfs/etc/apt/sources.list"
  else
    rm -f "$rootfs/etc/apt/sources.list.new"
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/debootstrap
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 600 bash -c 'set -o pipefail; tar -C "$1" -c . | docker import --change "CMD [\"bash\"]" - "$2"' \
    _ "$rootfs" "$base" > /dev/null || die "docker import of the base image failed"
  rm -rf "$rootfs"
  log "base image $base: built in $((SECONDS - started))s"
}

# --- the gpool image ---------------------------------------------------------------------------

# build_gpool_image IMAGE SECONDS: docker/Dockerfile built as IMAGE from the repository, with
# the host's network (the build's apt-get reaches the same mirror as the host's). The image
# stays: it is the layer cache of the next run, and the smoke and swarm tests share it.
build_gpool_image() {
  local image=$1 limit=$2 started=$SECONDS
  local dir
  dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  log "docker build --network host -t $image (log: $WORK/build.log; up to ${limit}s)"
  if ! timeout "$limit" docker build --network host -f "$dir/Dockerfile" -t "$image" \
    "$dir/.." > "$WORK/build.log" 2>&1; then
    tail -n 60 "$WORK/build.log" | sed 's/^/    /'
    die "docker build failed (or exceeded ${limit}s)"
  fi
  log "image $image built in $((SECONDS - started))s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
  # Earlier builds leave untagged stages behind; drop those older than a day (recent ones
  # are the layer cache of the next build).
  timeout 120 docker image prune -f --filter label=gpool.image --filter until=24h > /dev/null 2>&1 ||
    log "warning: pruning stale gpool build stages failed"
}

# Stops the dockerd this script started and removes the scratch dir.
docker_lib_cleanup() {
  stop_started_dockerd
  if [[ -n "$WORK" ]]; then rm -rf "$WORK"; fi
}
