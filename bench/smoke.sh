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
# Issue 19's peers (bench/typed.sh): the loop's sum near the exact one, the gRPC stream's
# strings the upper-cased input.
"$BIN/sqrt_sum_loop" 1000 2 1 2> /dev/null | python3 -c '
import json, math, sys
got, exact = json.load(sys.stdin)["sum"], math.fsum(math.sqrt(i) for i in range(1, 1001))
sys.exit(0 if abs(got - exact) <= 1e-12 * exact else "sqrt_sum_loop: %r, not about %r" % (got, exact))'
expected=$(python3 "$(dirname "$0")/peers_typed/make_strings.py" 100 "$WORK/strings.txt")
# W5's library row: gpool_bench checks the strings it gets back against the upper-cased input.
"$BIN/gpool_bench" --coordinator="$ADDR" --workloads=w5_upper --w5_input="$WORK/strings.txt" \
  --reps=1 --warmup=0
"$BIN/typed_stream_server" --input="$WORK/strings.txt" --port_file="$WORK/stream_port" &
PIDS+=($!)
for _ in $(seq 400); do [[ -s $WORK/stream_port ]] && break; sleep 0.025; done
"$BIN/typed_stream_client" --address="127.0.0.1:$(cat "$WORK/stream_port")" --batch=16 --reps=1 \
  --output="$WORK/stream_out.txt" > /dev/null
[[ $(sha256sum < "$WORK/stream_out.txt" | cut -d' ' -f1) == "$expected" ]] ||
  { echo "typed_stream_client: not the upper-cased strings" >&2; exit 1; }
echo "ran sqrt_sum_loop and typed_stream_server/client"
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
