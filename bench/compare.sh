#!/usr/bin/env bash
# Issue 6's side-by-side measurement, in one run on this machine:
#   gpool (Release build, a 2-worker cluster on loopback) on W1 cold/warm, W2, W3, W4,
#   multiprocessing.Pool (and, with --with-dask, Dask) on the same workloads, the limit
#   probes (the vectorised 2-thread sum-of-squares loop, one gRPC stream of packed fixed64),
#   and issue 19's typed workloads W5 and W6 beside their peers (bench/typed.sh),
# then a table of ratios against each target. Peers and probes come from
# ../shared/bench/peers (or $GPOOL_PEERS); they are copied to a scratch directory and built
# there. Results (JSON lines and the table) go to bench/results/.
#
#   bench/compare.sh              # full sizes: W4 over 10^10 elements (a few minutes)
#   bench/compare.sh --quick      # small sizes, to check the script itself (under a minute)
#   bench/compare.sh --with-dask  # also Dask (Debian's python3-distributed): ~3 more minutes
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=0
WITH_DASK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --with-dask) WITH_DASK=1 ;;
    *) echo "usage: bench/compare.sh [--quick] [--with-dask]" >&2; exit 2 ;;
  esac
done
# W1 warm takes under a millisecond, where one scheduling hiccup of the shared machine
# doubles a repetition: it gets more repetitions than the others, and more warm-ups (the
# first jobs on a fresh cluster or pool run slower), the same on both sides. Its
# repetitions run in W1_BLOCKS blocks, gpool's and Pool's alternating, so that a slow spell
# of the machine (they last seconds here, longer than a whole side's 200 repetitions) falls
# on both sides instead of on whichever happened to run then.
if ((QUICK)); then W2_N=1e6; W3_N=1e3; W4_N=1e8; REPS=3; W1_REPS=10; W1_WARMUP=2; W1_BLOCKS=2; LIMIT_N=100000000; STREAM_N=20000000
else W2_N=1e7; W3_N=1e4; W4_N=1e10; REPS=5; W1_REPS=200; W1_WARMUP=20; W1_BLOCKS=5; LIMIT_N=1000000000; STREAM_N=300000000; fi

PEERS=${GPOOL_PEERS:-$ROOT/../shared/bench/peers}
PY=/usr/bin/python3   # Debian's Python sees Debian's python3-dask; a pyenv one may not
RESULTS=$ROOT/bench/results
mkdir -p "$RESULTS"
OUT=$RESULTS/compare.jsonl
: > "$OUT"
WORK=$(mktemp -d /tmp/gpool-compare.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
step() { printf '\n== %s (%ds)\n' "$*" "$SECONDS" >&2; }

step "installing what is missing"
scripts/install-deps.sh test > /dev/null
for tool in hyperfine; do
  command -v $tool > /dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $tool > /dev/null
done
if ((WITH_DASK)) && ! $PY -c 'import distributed' 2> /dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-distributed python3-dask > /dev/null
fi

step "building gpool in Release (build-release/)"
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DGPOOL_BUILD_TESTS=OFF > /dev/null
ninja -C build-release > /dev/null
BIN=$ROOT/build-release/bin

step "starting a 2-worker cluster on loopback"
"$BIN/gpool-coordinator" --listen=127.0.0.1:0 --port_file="$WORK/port" --log_level=warning &
PIDS+=($!)
for _ in $(seq 200); do [[ -s $WORK/port ]] && break; sleep 0.05; done
ADDR=127.0.0.1:$(cat "$WORK/port")
for _ in 1 2; do
  "$BIN/gpool-worker" --coordinator="$ADDR" --listen=127.0.0.1:0 --log_level=warning &
  PIDS+=($!)
done
"$BIN/gpool" --coordinator="$ADDR" info > /dev/null

step "W1 warm: gpool and multiprocessing.Pool alternating, $W1_BLOCKS blocks of $((W1_REPS / W1_BLOCKS)) repetitions each"
for _ in $(seq $W1_BLOCKS); do
  # gpool_bench prints each repetition on stderr ("w1 rep N: S s", warm-ups negative).
  "$BIN/gpool_bench" --coordinator="$ADDR" --workloads=w1 --reps=$((W1_REPS / W1_BLOCKS)) \
    --warmup=$W1_WARMUP 2>> "$WORK/w1_gpool.txt" > /dev/null
  $PY "$PEERS/py_warm.py" pool w1 --reps $((W1_REPS / W1_BLOCKS)) --warmup $W1_WARMUP \
    2> /dev/null >> "$WORK/w1_pool.jsonl"
done
$PY - "$WORK/w1_gpool.txt" "$WORK/w1_pool.jsonl" <<'PYEOF' | tee -a "$OUT"
import json, re, statistics, sys
gpool = [float(m.group(2)) for m in re.finditer(r"^w1 rep (-?\d+): ([\d.]+) s$", open(sys.argv[1]).read(), re.M)
         if int(m.group(1)) >= 0]
pool = [t for line in open(sys.argv[2]) if line.strip() for t in json.loads(line)["times_s"]]
for system, times in (("gpool", gpool), ("pool", pool)):
    print(json.dumps({"system": system, "workload": "w1", "elements": 5000, "reps": len(times),
                      "median_s": statistics.median(times), "min_s": min(times),
                      "max_s": max(times)}))
PYEOF

step "gpool warm: W2 (values to the caller), W3 (one-element chunks), W4 (reduce-only)"
"$BIN/gpool_bench" --coordinator="$ADDR" --workloads=w2,w3,w4 --reps=$REPS \
  --w2_n=$W2_N --w3_n=$W3_N --w4_n=$W4_N | tee -a "$OUT"

step "TLS cost (issue 18): W2 and W3 over mutual TLS against plain text, side by side"
# W2 over gRPC too (--shared_values=false): the values then cross both hops, which is what TLS
# encrypts; by default they go through shared memory on this host.
relabel() { $PY -c 'import json,sys
for line in sys.stdin:
    if line.startswith("{"):
        r = json.loads(line); r["system"] = sys.argv[1]
        if sys.argv[2]: r["workload"] = r["workload"] + sys.argv[2]
        print(json.dumps(r))' "$@"; }
"$BIN/gpool_bench" --coordinator="$ADDR" --workloads=w2 --shared_values=false --reps=$REPS \
  --w2_n=$W2_N | relabel gpool _grpc | tee -a "$OUT"
"$BIN/gpool" init "$WORK/tls" > /dev/null
"$BIN/gpool-coordinator" --listen=127.0.0.1:0 --port_file="$WORK/tls_port" \
  --credentials="$WORK/tls" --log_level=warning &
PIDS+=($!)
for _ in $(seq 200); do [[ -s $WORK/tls_port ]] && break; sleep 0.05; done
TLS_ADDR=127.0.0.1:$(cat "$WORK/tls_port")
for _ in 1 2; do
  "$BIN/gpool-worker" --coordinator="$TLS_ADDR" --listen=127.0.0.1:0 \
    --credentials="$WORK/tls" --log_level=warning &
  PIDS+=($!)
done
"$BIN/gpool" --coordinator="$TLS_ADDR" --credentials="$WORK/tls" info > /dev/null
"$BIN/gpool_bench" --coordinator="$TLS_ADDR" --credentials="$WORK/tls" --workloads=w2,w3 \
  --reps=$REPS --w2_n=$W2_N --w3_n=$W3_N | relabel gpool_tls "" | tee -a "$OUT"
"$BIN/gpool_bench" --coordinator="$TLS_ADDR" --credentials="$WORK/tls" --workloads=w2 \
  --shared_values=false --reps=$REPS --w2_n=$W2_N | relabel gpool_tls _grpc | tee -a "$OUT"

step "W1 cold: the whole process, gpool on its local default cluster vs the Pool program"
hyperfine -N --warmup 2 --runs 10 --export-json "$WORK/cold.json" \
  "$BIN/gpool map square 1..5000" "$PY $PEERS/seed_pool.py" > /dev/null
if ((WITH_DASK)); then
  # A Dask LocalCluster takes seconds to start: fewer runs.
  hyperfine -N --warmup 1 --runs 3 --export-json "$WORK/cold_dask.json" \
    "$PY $PEERS/seed_dask.py" > /dev/null
fi
$PY - "$WORK"/cold*.json >> "$OUT" <<'PYEOF'
import json, sys
for r in (r for path in sys.argv[1:] for r in json.load(open(path))["results"]):
    # By the peer's script: a checkout path may contain any of the names.
    system = ("dask" if "seed_dask.py" in r["command"] else
              "pool" if "seed_pool.py" in r["command"] else "gpool")
    print(json.dumps({"system": system, "workload": "w1_cold", "median_s": r["median"],
                      "min_s": r["min"], "max_s": r["max"]}))
PYEOF

step "multiprocessing.Pool warm"
for workload in w2 w2_array100k w3 w4; do
  $PY "$PEERS/py_warm.py" pool $workload --reps $REPS 2> /dev/null | tee -a "$OUT" || true
done
if ((WITH_DASK)); then
  step "Dask warm (slow)"
  for workload in w1 w2_array100k w3 w4; do
    $PY "$PEERS/py_warm.py" dask $workload --reps 3 2> /dev/null | tee -a "$OUT" || true
  done
fi

step "limit probes (built from the peers' sources in a scratch copy)"
cp -r "$PEERS" "$WORK/peers"
(cd "$WORK/peers" && ./build.sh > /dev/null 2>&1)
for kernel in split simd; do
  # The best of 3 repetitions (each line: "<kernel> threads=2 n=... elements_per_s=...").
  "$WORK/peers/build/limits_sum" 1 $LIMIT_N 2 $kernel 3 |
    $PY -c 'import json,sys; best=max(float(dict(kv.split("=") for kv in l.split()[1:] if "=" in kv)["elements_per_s"]) for l in sys.stdin if "elements_per_s=" in l); print(json.dumps({"system":"limit","workload":"sum_'$kernel'_2t","rate_per_s":best}))' | tee -a "$OUT"
done
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$WORK/peers/build/grpc_bench_server" "$PORT" > "$WORK/grpc_server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q listening "$WORK/grpc_server.log" && break; sleep 0.05; done
"$WORK/peers/build/grpc_bench_client" stream fixed64 $STREAM_N 65536 3 --port "$PORT" |
  $PY -c 'import json,sys; best=max(float(dict(kv.split("=") for kv in l.split()[1:] if "=" in kv)["values_per_s"]) for l in sys.stdin if l.startswith("stream")); print(json.dumps({"system":"limit","workload":"grpc_stream_fixed64","rate_per_s":best}))' | tee -a "$OUT"

step "typed workloads (issue 19): W5 strings through upper, W6 the exact sqrt sum, and peers"
# On this cluster, which is warm; it appends its JSON lines to OUT. A gpool side that fails
# says so and the peers still run.
TYPED_ARGS=(--no-build --coordinator "$ADDR" --out "$OUT")
if ((QUICK)); then TYPED_ARGS+=(--quick); fi
bench/typed.sh "${TYPED_ARGS[@]}" || echo "bench/typed.sh failed" >&2

step "summary"
$PY "$ROOT/bench/summarize_compare.py" "$OUT" | tee "$RESULTS/compare.md"
