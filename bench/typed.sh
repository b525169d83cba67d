#!/usr/bin/env bash
# Issue 19's typed workloads beside their peers, in one run on this machine:
#   W5  10^5 strings of 100 ASCII letters and digits (bench/peers_typed/make_strings.py) through
#       the built-in `upper` back to the caller: `gpool map upper --input F --type string
#       --print` on a warm 2-worker cluster, and the same through the library (gpool_bench's
#       w5_upper: Client::MapStream of the strings from memory, "system": "gpool_lib"),
#       against multiprocessing.Pool(2).map(str.upper) (warm) and the gRPC limit for the same
#       bytes (one server-streaming call of `repeated string` batches of 4096 on loopback).
#       Goal: gpool at least 10x Pool.
#   W6  the sum of sqrt over 1..10^8 as doubles (`gpool map sqrt 1..N --reduce sum`, exact:
#       it must equal math.fsum's), against a 2-thread loop vectorised by the compiler.
#       Goal: gpool at least 0.5 of the loop's rate.
# Every run's output is checked. JSON lines like bench/compare.sh's go to stdout and, with
# --out, are appended to that file; then the ratios against the goals. A gpool side that
# fails says "gpool side failed: ..." and the peers still run.
#
#   bench/typed.sh                       # full sizes; builds build-release/ first
#   bench/typed.sh --quick               # 10^4 strings, 10^7 doubles
#   bench/typed.sh --coordinator ADDR --no-build --out FILE   # as bench/compare.sh calls it
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source bench/lib.sh

QUICK=0
BUILD=1
OUT=
CLUSTER=
while (($#)); do
  case "$1" in
    --quick) QUICK=1 ;;
    --no-build) BUILD=0 ;;
    --out) OUT=$2; shift ;;
    --coordinator) CLUSTER=$2; shift ;;
    *) echo "usage: bench/typed.sh [--quick] [--no-build] [--out FILE] [--coordinator ADDR]" >&2
       exit 2 ;;
  esac
  shift
done
if ((QUICK)); then W5_N=10000; W6_N=10000000; REPS=3
else W5_N=100000; W6_N=100000000; REPS=5; fi
PY=/usr/bin/python3
PEERS=$ROOT/bench/peers_typed
BIN=$ROOT/build-release/bin
step() { printf '\n== %s (%ds)\n' "$*" "$SECONDS" >&2; }

if ((BUILD)); then
  step "building gpool and the peers in Release (build-release/)"
  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DGPOOL_BUILD_TESTS=OFF \
    > /dev/null
  ninja -C build-release > /dev/null
fi

bench_init gpool-typed
RUN=$WORK/typed.jsonl
: > "$RUN"
record() { tee -a "$RUN"; }   # JSON lines from stdin: shown and kept for the ratios

if [[ -n $CLUSTER ]]; then
  ADDR=$CLUSTER
else
  step "starting a 2-worker cluster on loopback"
  bench_start_cluster "$BIN" "$WORK/coordinator.log"
fi
GPOOL=("$BIN/gpool" --coordinator="$ADDR" --quiet)

step "W5 input: $W5_N strings of 100 bytes; W6's exact sum (math.fsum over 1..$W6_N)"
W5_SHA=$($PY "$PEERS/make_strings.py" $W5_N "$WORK/strings.txt")
W6_SUM=$($PY -c 'import math, sys; print(repr(math.fsum(map(math.sqrt, range(1, int(sys.argv[1]) + 1)))))' $W6_N)
echo "expected: upper output sha256 $W5_SHA, sum $W6_SUM" >&2

step "W5 gpool: map upper --input --type string --print, warm cluster"
# time_cli.py says "gpool side failed: ..." itself; the peers run regardless.
$PY "$PEERS/time_cli.py" --workload w5_upper --elements $W5_N --reps $REPS --warmup 1 \
  --lines-sha256 "$W5_SHA" -- "${GPOOL[@]}" map upper --input "$WORK/strings.txt" \
  --type string --print | record || true

step "W5 gpool library: Client::MapStream of the strings through upper, warm cluster"
# gpool_bench checks the strings it gets back (after its clock stops) and says why it failed.
"$BIN/gpool_bench" --coordinator="$ADDR" --workloads=w5_upper --w5_input="$WORK/strings.txt" \
  --reps=$REPS --warmup=1 | record || echo "gpool_lib side failed (see above)" >&2

step "W5 multiprocessing.Pool(2).map(str.upper), warm"
$PY "$PEERS/pool_upper.py" "$WORK/strings.txt" --processes 2 --reps $REPS | record ||
  echo "pool side failed (see above)" >&2

step "W5 gRPC limit: one server-streaming call of repeated string, batches of 4096"
"$BIN/typed_stream_server" --input="$WORK/strings.txt" --port_file="$WORK/stream_port" &
PIDS+=($!)
for _ in $(seq 400); do [[ -s $WORK/stream_port ]] && break; sleep 0.025; done
if "$BIN/typed_stream_client" --address="127.0.0.1:$(cat "$WORK/stream_port")" --batch=4096 \
  --reps=$REPS --output="$WORK/stream_out.txt" > "$WORK/stream.json"; then
  if [[ $(sha256sum < "$WORK/stream_out.txt" | cut -d' ' -f1) == "$W5_SHA" ]]; then
    record < "$WORK/stream.json"
  else
    echo "grpc_stream side failed: its strings are not the upper-cased input" >&2
  fi
else
  echo "grpc_stream side failed (see above)" >&2
fi

step "W6 gpool: map sqrt 1..$W6_N --reduce sum, warm cluster"
$PY "$PEERS/time_cli.py" --workload w6_sqrt_sum --elements $W6_N --reps $REPS --warmup 1 \
  --sum "$W6_SUM" -- "${GPOOL[@]}" map sqrt "1..$W6_N" --reduce sum | record || true

step "W6 2-thread vectorised loop"
"$BIN/sqrt_sum_loop" $W6_N 2 $REPS 2> /dev/null | record || echo "loop side failed" >&2

[[ -n $OUT ]] && cat "$RUN" >> "$OUT"

step "ratios"
$PY - "$RUN" "$W6_SUM" <<'PYEOF'
import json, sys
rows = {(r["system"], r["workload"]): r for r in map(json.loads, open(sys.argv[1]))}
def rate(system, workload):
    r = rows.get((system, workload))
    return r["rate_per_s"] if r else None
def ratio(name, a, b, goal):
    if a is None or b is None:
        print("%s: - (%s side missing)" % (name, "gpool" if a is None else "peer"))
    else:
        print("%s: %.3g (goal >= %g: %s)" % (name, a / b, goal, "met" if a / b >= goal
                                             else "not met"))
for system, name in (("gpool", "CLI"), ("gpool_lib", "library")):
    ratio("W5 gpool %s/Pool" % name, rate(system, "w5_upper"), rate("pool", "w5_upper"), 10)
    g, lim = rate(system, "w5_upper"), rate("grpc_stream", "w5_upper")
    print("W5 gpool %s/gRPC limit: %s" % (name, "-" if g is None or lim is None
                                          else "%.3g" % (g / lim)))
ratio("W6 gpool/vectorised loop", rate("gpool", "w6_sqrt_sum"), rate("loop", "w6_sqrt_sum"),
      0.5)
loop = rows.get(("loop", "w6_sqrt_sum"))
if loop:
    exact = float(sys.argv[2])
    print("W6 loop's sum %r against the exact %r: relative difference %.2g" %
          (loop["sum"], exact, abs(loop["sum"] - exact) / exact))
PYEOF
