#!/usr/bin/env bash
# Issue 22, item 4: a file of N integers (default 10^8, about 890 MB of text) mapped through
# `gpool map square --input FILE`, which streams it (MapStream). A coordinator and 2 workers
# on loopback. Checks the exact sum against n(n+1)(2n+1)/6 and prints the time and the peak
# RSS of the client (/usr/bin/time) and of the coordinator (VmHWM), which must stay bounded
# whatever N.
#   bench/stream_input.sh [BIN_DIR] [N]     (BIN_DIR defaults to build/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/bin}
N=${2:-100000000}
# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_init gpool-stream
start=$(date +%s.%N)
seq 1 "$N" > "$WORK/values.txt"
echo "{\"n\": $N, \"file_bytes\": $(stat -c %s "$WORK/values.txt"), \"generate_s\": $(echo "$(date +%s.%N) - $start" | bc)}"
bench_start_cluster "$BIN" "$WORK/coordinator.log"
rss_kb() { awk -v field="$1" '$1 == field":" {print $2}' "/proc/$COORDINATOR/status"; }
echo "{\"coordinator_rss_before_kb\": $(rss_kb VmRSS)}"
/usr/bin/time -f '{"client_wall_s": %e, "client_user_s": %U, "client_sys_s": %S, "client_peak_rss_kb": %M}' \
  "$BIN/gpool" --coordinator="$ADDR" map square --input "$WORK/values.txt" \
  > "$WORK/out" 2> "$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
tail -1 "$WORK/err"
echo "{\"coordinator_peak_rss_kb\": $(rss_kb VmHWM), \"coordinator_rss_after_kb\": $(rss_kb VmRSS)}"
expected=$(echo "$N * ($N + 1) * (2 * $N + 1) / 6" | bc)
got=$(awk '/The sum/ {print $NF}' "$WORK/out")
if [[ $got != "$expected" ]]; then
  echo "wrong sum: got $got, expected $expected" >&2
  exit 1
fi
echo "{\"sum\": \"$got\", \"exact\": true}"
