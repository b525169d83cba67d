# shellcheck shell=bash
# Sourced by bench/smoke.sh, bench/flood.sh and bench/stream_input.sh: a scratch directory and the processes they
# start, both gone on exit, and a coordinator with two workers on loopback.
#   bench_init PREFIX                   WORK: a fresh /tmp/PREFIX.XXXXXX; PIDS: to stop on exit
#   bench_start_cluster BIN [LOG]       a coordinator (its stderr to LOG, if given) and two
#                                       gpool-workers; sets COORDINATOR (its pid) and ADDR

bench_init() {
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
  rm -rf "$WORK"
}

bench_start_cluster() {
  local bin=$1 log=${2:-/dev/stderr}
  "$bin/gpool-coordinator" --listen=127.0.0.1:0 --port_file="$WORK/port" --log_level=warning \
    2> "$log" &
  COORDINATOR=$!
  PIDS+=("$COORDINATOR")
  for _ in $(seq 400); do [[ -s $WORK/port ]] && break; sleep 0.025; done
  [[ -s $WORK/port ]] || { echo "the coordinator did not start" >&2; exit 1; }
  ADDR=127.0.0.1:$(cat "$WORK/port")
  for _ in 1 2; do
    "$bin/gpool-worker" --coordinator="$ADDR" --listen=127.0.0.1:0 --log_level=warning &
    PIDS+=($!)
  done
}
