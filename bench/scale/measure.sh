#!/usr/bin/env bash
# Issue 6 scale target: N (default 1000) registered workers heartbeating at the default rate
# (the coordinator grants a longer interval as the cluster grows past --heartbeat_budget).
#   * the coordinator's CPU at idle must stay below 10% of one core;
#   * a job spread over all of them must return the exact sum.
# Starts a coordinator and bench/scale/scale_workers (one process speaking the real worker
# protocol for N workers) on loopback, measures, and stops everything it started.
#
# Usage: bench/scale/measure.sh [BUILD_DIR]
#   env: WORKERS=1000 IDLE_SECONDS=10 IDLE_REPEATS=3 PERF=1 (perf profiles)
#        SCALE_ARGS="--shared_connection" (one connection for all workers);
#        COORD_ARGS="--heartbeat_budget=0" (a fixed 500 ms interval) or
#        "--heartbeat_interval=1s ..."
# The idle CPU is measured IDLE_REPEATS times over IDLE_SECONDS; the target uses the median,
# because the machine is shared and single windows are noisy.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-$ROOT/build}"
WORKERS="${WORKERS:-1000}"
IDLE_SECONDS="${IDLE_SECONDS:-10}"
IDLE_REPEATS="${IDLE_REPEATS:-3}"
PERF="${PERF:-0}"
BIN="$BUILD/bin"
N_ELEMENTS=10000000
CHUNKSIZE=2500
EXPECTED_SUM=333333383333335000000  # sum of x^2 for x = 1..10^7

# File descriptors: N listening ports + N connections each way + N client channels.
need_fds=$((WORKERS * 4 + 1024))
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
have_fds="$(ulimit -n)"
if [[ "$have_fds" != unlimited && "$have_fds" -lt "$need_fds" ]]; then
  echo "measure.sh: ulimit -n is $have_fds, need at least $need_fds for $WORKERS workers" >&2
  exit 1
fi
echo "== ulimit -n: $have_fds (need ~$need_fds)"

echo "== building scale_workers, gpool-coordinator, gpool"
ninja -C "$BUILD" scale_workers gpool-coordinator gpool >/dev/null

TMP="$(mktemp -d)"
COORD_PID=""
SCALE_PID=""
cleanup() {
  for pid in $SCALE_PID $COORD_PID; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $SCALE_PID $COORD_PID; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

hz="$(getconf CLK_TCK)"
cpu_ticks() {  # utime + stime of a process, in clock ticks
  # Field 2 (comm) may contain spaces: cut after the last ')'.
  local stat
  stat="$(cat "/proc/$1/stat")"
  stat="${stat##*) }"
  # After comm, field 3 is the first: utime is field 14, stime field 15 => index 11, 12.
  read -r -a f <<<"$stat"
  echo $((f[11] + f[12]))
}
cpu_percent_over() {  # PID SECONDS -> % of one core
  local pid="$1" secs="$2" t0 t1 w0 w1
  t0="$(cpu_ticks "$pid")"; w0="$(date +%s%N)"
  sleep "$secs"
  t1="$(cpu_ticks "$pid")"; w1="$(date +%s%N)"
  awk -v dt="$((t1 - t0))" -v hz="$hz" -v ns="$((w1 - w0))" \
    'BEGIN { printf "%.2f", 100.0 * dt / hz / (ns / 1e9) }'
}
vm() { awk -v k="$2:" '$1 == k { print $2, $3 }' "/proc/$1/status"; }

echo "== starting gpool-coordinator"
"$BIN/gpool-coordinator" --listen 127.0.0.1:0 --port_file "$TMP/port" --log_level warning ${COORD_ARGS:-} \
  2>"$TMP/coordinator.log" &
COORD_PID=$!
for _ in $(seq 100); do [[ -s "$TMP/port" ]] && break; sleep 0.1; done
[[ -s "$TMP/port" ]] || { echo "coordinator did not start" >&2; cat "$TMP/coordinator.log" >&2; exit 1; }
ADDR="127.0.0.1:$(cat "$TMP/port")"
echo "   coordinator pid $COORD_PID at $ADDR"

echo "== starting scale_workers --workers=$WORKERS"
start_ns="$(date +%s%N)"
"$BIN/scale_workers" --coordinator "$ADDR" --workers="$WORKERS" --duration=30m \
  --ready_file "$TMP/ready" ${SCALE_ARGS:-} >"$TMP/scale.log" 2>&1 &
SCALE_PID=$!

deadline=$(( $(date +%s) + 120 ))
while :; do
  if ! kill -0 "$SCALE_PID" 2>/dev/null; then
    echo "scale_workers exited early:" >&2; cat "$TMP/scale.log" >&2; exit 1
  fi
  info="$("$BIN/gpool" --coordinator "$ADDR" info 2>/dev/null || true)"
  grep -q "Number of cores available equals $WORKERS\$" <<<"$info" && break
  if (( $(date +%s) > deadline )); then
    echo "timed out waiting for $WORKERS workers; info says: $info" >&2
    cat "$TMP/scale.log" >&2; exit 1
  fi
  sleep 0.5
done
reg_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
echo "   $(head -1 <<<"$info") (after ${reg_ms} ms)"
head -1 "$TMP/scale.log" | sed 's/^/   scale_workers: /'

median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# The workers adopt the grant at their next beat; measure once they all beat at the same one.
intervals() {  # -> "min max" heartbeat interval (ms) over the workers, "null null" if unknown
  "$BIN/gpool" --coordinator "$ADDR" status --json 2>/dev/null |
    jq -r '[.workers[].heartbeat_interval_ms] | "\(min) \(max)"' 2>/dev/null || echo "? ?"
}
deadline=$(( $(date +%s) + 60 ))
while :; do
  read -r lo hi <<<"$(intervals)"
  [[ "$lo" == "$hi" && "$lo" != "?" ]] && break
  if (( $(date +%s) > deadline )); then echo "   intervals did not settle: $lo..$hi ms" >&2; break; fi
  sleep 0.5
done
interval_ms="$lo"
echo "   heartbeat interval: ${lo}..${hi} ms ($WORKERS workers)"

echo "== settling 3 s, then coordinator CPU over ${IDLE_SECONDS} s idle, ${IDLE_REPEATS} times"
sleep 3
idle_samples=""
for _ in $(seq "$IDLE_REPEATS"); do
  idle_samples="$idle_samples $(cpu_percent_over "$COORD_PID" "$IDLE_SECONDS")"
done
idle_cpu="$(median <<<"${idle_samples# }")"
echo "   coordinator idle CPU:${idle_samples}; median ${idle_cpu}% of one core (target < 10%)"
echo "   scale_workers: $(tail -1 "$TMP/scale.log")"
echo "   coordinator threads: $(awk '$1=="Threads:"{print $2}' /proc/$COORD_PID/status)," \
     "fds: $(ls /proc/$COORD_PID/fd | wc -l), RSS: $(vm "$COORD_PID" VmRSS)"
if [[ "$PERF" == 1 ]] && command -v perf >/dev/null; then
  echo "== perf (idle, 5 s)"
  perf record -q -g -o "$TMP/perf.idle" -p "$COORD_PID" -- sleep 5 >/dev/null 2>&1 || true
  perf report -i "$TMP/perf.idle" --stdio --no-children 2>/dev/null | grep -E '^ +[0-9]' | head -15 || true
fi

echo "== gpool map square 1..$N_ELEMENTS --chunksize $CHUNKSIZE over $WORKERS workers"
t0_ticks="$(cpu_ticks "$COORD_PID")"
t0="$(date +%s%N)"
if [[ "$PERF" == 1 ]] && command -v perf >/dev/null; then
  perf record -q -g -o "$TMP/perf.job" -p "$COORD_PID" >/dev/null 2>&1 &
  PERF_PID=$!
fi
"$BIN/gpool" --coordinator "$ADDR" map square "1..$N_ELEMENTS" --chunksize "$CHUNKSIZE" \
  --stats --json --quiet >"$TMP/map.json" 2>"$TMP/map.err" && map_rc=0 || map_rc=$?
t1="$(date +%s%N)"
t1_ticks="$(cpu_ticks "$COORD_PID")"
if [[ -n "${PERF_PID:-}" ]]; then kill -INT "$PERF_PID" 2>/dev/null || true; wait "$PERF_PID" 2>/dev/null || true; fi
job_ms=$(( (t1 - t0) / 1000000 ))
sed 's/^/   stderr: /' "$TMP/map.err"
result="$(jq -r .result "$TMP/map.json")"
chunks="$(jq -r .chunks "$TMP/map.json")"
distinct="$(jq '[.workers[] | select(.chunks > 0) | .id] | unique | length' "$TMP/map.json")"
distinct_hosts="$(jq '[.workers[] | .host] | unique | length' "$TMP/map.json")"
min_chunks="$(jq '[.workers[].chunks] | min' "$TMP/map.json")"
max_chunks="$(jq '[.workers[].chunks] | max' "$TMP/map.json")"
coord_job_cpu="$(awk -v dt="$((t1_ticks - t0_ticks))" -v hz="$hz" -v ns="$((t1 - t0))" \
  'BEGIN { printf "%.0f", 100.0 * dt / hz / (ns / 1e9) }')"
echo "   exit $map_rc, wall ${job_ms} ms (client process incl. connect), coordinator-side elapsed" \
     "$(jq -r .elapsed_ms "$TMP/map.json") ms, $chunks chunks"
echo "   coordinator CPU during the job: ${coord_job_cpu}% of one core"
if [[ "$result" == "$EXPECTED_SUM" ]]; then sum_ok=yes; else sum_ok=NO; fi
echo "   sum $result (expected $EXPECTED_SUM): exact = $sum_ok"
echo "   distinct workers that computed chunks: $distinct ids / $distinct_hosts hosts" \
     "of $WORKERS (chunks per worker: min $min_chunks, max $max_chunks)"
if [[ -n "${PERF_PID:-}" ]]; then
  echo "== perf (during the job)"
  perf report -i "$TMP/perf.job" --stdio --no-children 2>/dev/null | grep -E '^ +[0-9]' | head -20 || true
fi

echo "== after the job: idle CPU over ${IDLE_SECONDS} s again"
idle_cpu2="$(cpu_percent_over "$COORD_PID" "$IDLE_SECONDS")"
echo "   coordinator idle CPU: ${idle_cpu2}% of one core"
hwm="$(vm "$COORD_PID" VmHWM)"
rss="$(vm "$COORD_PID" VmRSS)"
echo "   coordinator peak RSS (VmHWM): $hwm, now $rss"
echo "   scale_workers: $(tail -1 "$TMP/scale.log")"
dead="$(grep -c 'declared dead' "$TMP/coordinator.log" || true)"
echo "   workers declared dead by the coordinator during the run: $dead"
if grep -qiE 'error|warn' "$TMP/coordinator.log"; then
  echo "   coordinator log (warnings/errors, first 5):"
  { grep -iE 'error|warn' "$TMP/coordinator.log" || true; } | head -5 | sed 's/^/     /' || true
fi

echo
beats_per_s="$(grep -o 'heartbeats [0-9]*/s' "$TMP/scale.log" | tail -1 | tr -dc '0-9')"
echo "SUMMARY workers=$WORKERS interval_ms=$interval_ms beats_per_s=$beats_per_s" \
     "registered_ms=$reg_ms idle_cpu=${idle_cpu}% idle_cpu_after=${idle_cpu2}%" \
     "job_ms=$job_ms sum_exact=$sum_ok distinct_workers=$distinct declared_dead=$dead coordinator_VmHWM=\"$hwm\""
pass=1
awk -v c="$idle_cpu" 'BEGIN { exit !(c < 10) }' || pass=0
[[ "$sum_ok" == yes && "$distinct" == "$WORKERS" && "$map_rc" == 0 ]] || pass=0
if (( pass )); then echo "TARGET MET"; else echo "TARGET NOT MET"; fi
