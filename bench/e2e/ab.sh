#!/usr/bin/env bash
# Interleaved before/after runs of one gpool_bench workload on a shared, noisy machine.
#
#   bench/e2e/ab.sh [--rounds R] [--reps N] [--workload w2] CONFIG...
#   CONFIG = "BIN_DIR|CLUSTER_ENV|CLIENT_ENV|GPOOL_BENCH_FLAGS|CPUS|COORDINATOR_FLAGS"
#            (fields may be empty, and the last ones left out)
#   CPUS = "COORDINATOR/WORKER1/WORKER2/CLIENT", each a taskset CPU list or - for any CPU
#
#   bench/e2e/ab.sh --rounds 6 "old/bin|||" "build-release/bin|||" \
#       "build-release/bin|||--w2_chunk=262144" \
#       "build-release/bin|LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4||"
#   bench/e2e/ab.sh --workload w1 --reps 2000 "build-release/bin||||" \
#       "build-release/bin||||0/-/-/-"      # the coordinator's threads on one CPU
#
# Each round starts, for every config in turn, a fresh coordinator and 2 one-slot workers
# (CLUSTER_ENV in their environment) and runs the workload REPS times through gpool_bench
# (CLIENT_ENV in its environment). Rounds interleave the configs, so load from other users
# falls on all of them alike. Besides the wall time (median of each round's median), it
# prints the CPU time each process spent per job (utime + stime over the warm-up and the
# timed repetitions): CPU is far less sensitive to other load than wall time, and it says
# which process a change helped. CPUS pins processes (taskset): a diagnosis of where a job's
# time goes, not a way to run gpool.
set -uo pipefail

ROUNDS=4
REPS=5
WORKLOAD=w2
while [[ $# -gt 0 && $1 == --* ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --workload) WORKLOAD=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $# -gt 0 ]] || { sed -n '2,6p' "$0" >&2; exit 2; }

RESULTS=$(mktemp /tmp/gpool-ab.XXXXXX)
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Becomes the command, on the CPUs in $1 (a taskset list) or anywhere for -. It execs, so
# call it only in a subshell (& or $(...)); then $! is the daemon's own PID.
on_cpus() {
  local cpus=$1
  shift
  if [[ $cpus == - ]]; then exec "$@"; else exec taskset -c "$cpus" "$@"; fi
}

# One config, one round: prints "median_ms min_ms coord_ms worker1_ms worker2_ms client_ms".
run_once() {
  local bin=$1 cluster_env=$2 client_env=$3 flags=$4 cpus=$5 coordinator_flags=$6
  local work pids=() before=() addr place=()
  IFS=/ read -r -a place <<< "${cpus:--/-/-/-}"
  work=$(mktemp -d /tmp/gpool-ab.XXXXXX)
  on_cpus "${place[0]:--}" env $cluster_env "$bin/gpool-coordinator" --listen=127.0.0.1:0 \
    --port_file="$work/port" --log_level=error $coordinator_flags &
  pids+=($!)
  for _ in $(seq 200); do [[ -s $work/port ]] && break; sleep 0.05; done
  addr=127.0.0.1:$(cat "$work/port")
  for w in 1 2; do
    on_cpus "${place[w]:--}" env $cluster_env "$bin/gpool-worker" --coordinator="$addr" \
      --listen=127.0.0.1:0 --log_level=error &
    pids+=($!)
  done
  for _ in $(seq 100); do
    [[ $("$bin/gpool" --coordinator="$addr" info 2> /dev/null | grep -c square) -ge 2 ]] && break
    sleep 0.05
  done
  for pid in "${pids[@]}"; do before+=("$(cpu_ticks "$pid")"); done
  local json
  json=$(on_cpus "${place[3]:--}" env $client_env /usr/bin/time -f "%U %S" -o "$work/time" \
    "$bin/gpool_bench" --coordinator="$addr" --workloads="$WORKLOAD" --reps="$REPS" $flags \
    2> /dev/null)
  local line i=0 jobs=$((REPS + 1))
  line=$(echo "$json" | python3 -c 'import json, sys
d = json.loads(sys.stdin.read()); print("%.3f %.3f" % (d["median_s"] * 1e3, d["min_s"] * 1e3))')
  for pid in "${pids[@]}"; do
    line+=" $(awk -v t=$(($(cpu_ticks "$pid") - before[i])) -v hz=$HZ -v n=$jobs \
      'BEGIN {printf "%.3f", t * 1000 / hz / n}')"
    i=$((i + 1))
  done
  line+=" $(awk -v n=$jobs '{printf "%.3f", ($1 + $2) * 1000 / n}' "$work/time")"
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null; done
  rm -rf "$work"
  echo "$line"
}

for round in $(seq "$ROUNDS"); do
  for config in "$@"; do
    IFS='|' read -r bin cluster_env client_env flags cpus coordinator_flags <<< "$config"
    result=$(run_once "$bin" "$cluster_env" "$client_env" "$flags" "$cpus" "$coordinator_flags")
    echo "round $round [$config] $result" | tee -a "$RESULTS" >&2
  done
done

python3 - "$RESULTS" "$@" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    config = line[line.index("[") + 1:line.rindex("]")]
    rows.setdefault(config, []).append([float(x) for x in line[line.rindex("]") + 1:].split()])
print("| config | wall median of medians (ms) | best min (ms) | CPU ms/job: coordinator | workers | client | total |")
print("|---|---|---|---|---|---|---|")
for config in sys.argv[2:]:
    r = rows[config]
    med = lambda k: statistics.median(x[k] for x in r)
    workers = statistics.median(x[3] + x[4] for x in r)
    total = statistics.median(x[2] + x[3] + x[4] + x[5] for x in r)
    shown = config.replace("|", "\\|")
    # Three decimals: W1 jobs take well under a millisecond, of wall time and of CPU.
    print(f"| `{shown}` | {med(0):.3f} | {min(x[1] for x in r):.3f} | {med(2):.3f} "
          f"| {workers:.3f} | {med(5):.3f} | {total:.3f} |")
EOF
rm -f "$RESULTS"
