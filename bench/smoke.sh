#!/usr/bin/env bash
# CI's guard against rotting benchmarks: runs each benchmark once on tiny sizes against a
# real 2-worker cluster on loopback. It checks that they run and compute right; it times
# nothing.   bench/smoke.sh BIN_DIR
set -euo pipefail
BIN=$1
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init gpool-bench-smoke
bench_start_cluster "$BIN"
"$BIN/gpool_bench" --coordinator="$ADDR" --workloads=w1,w2,w3,w4 --reps=1 \
  --w2_n=1e4 --w3_n=100 --w4_n=1e6
"$BIN/gpool_flood" --coordinator="$ADDR" --clients=20 --info_calls=50 --churn_workers=10
for micro in "$BIN"/bench_*; do
  [[ -x $micro ]] || continue
  # A benchmark that finds a wrong result stops with SkipWithError, which does not change the
  # exit status: its report line does.
  report=$("$micro" --benchmark_min_time=0.001 --benchmark_filter=.)
  if grep -q "ERROR OCCURRED" <<< "$report"; then
    grep "ERROR OCCURRED" <<< "$report" >&2
    echo "$(basename "$micro") reported an error" >&2
    exit 1
  fi
  echo "ran $(basename "$micro")"
done
