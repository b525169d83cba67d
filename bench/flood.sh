#!/usr/bin/env bash
# Issue 22's flood: a coordinator and 2 workers on loopback, then gpool_flood (1,000
# concurrent clients with a job each, 500 workers registering and leaving meanwhile, then
# 10,000 info calls). Prints each phase's attempts, failures (goal: none) and time, and the
# coordinator's peak and final RSS.
#   bench/flood.sh [BIN_DIR] [GPOOL_FLOOD_FLAG...]     (BIN_DIR defaults to build-release/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build-release/bin}
shift || true
# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_init gpool-flood
# 1,000 clients are 1,000 connections on each side, and each client thread holds a few.
ulimit -n 65536 2> /dev/null || ulimit -n "$(ulimit -Hn)"
bench_start_cluster "$BIN" "$WORK/coordinator.log"
rss_kb() { awk -v field="$1" '$1 == field":" {print $2}' "/proc/$COORDINATOR/status"; }
echo "{\"coordinator_rss_before_kb\": $(rss_kb VmRSS)}"
status=0
"$BIN/gpool_flood" --coordinator="$ADDR" "$@" || status=$?
echo "{\"coordinator_peak_rss_kb\": $(rss_kb VmHWM), \"coordinator_rss_after_kb\": $(rss_kb VmRSS)}"
kill -0 "$COORDINATOR" || { echo "the coordinator died" >&2; exit 1; }
exit $status
