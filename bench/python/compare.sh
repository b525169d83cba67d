#!/usr/bin/env bash
# gpool.Pool against multiprocessing.Pool on this machine, side by side in one run:
#   1. the seed program (examples/python/seed.py), whole process, cold, under each import,
#      with hyperfine (apt-get install hyperfine); goal: gpool at most 3x Pool's time;
#   2. a warm map of a Python function over 10^5 small elements (warm_map.py); goal: at
#      least Pool's throughput.
# Needs the daemons built (build/bin, or GPOOL_BIN_DIR). A measurement, not a test.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GPOOL_BIN_DIR=${GPOOL_BIN_DIR:-$PWD/build/bin}
export PYTHONPATH=$PWD/python${PYTHONPATH:+:$PYTHONPATH}
command -v hyperfine > /dev/null || { echo "$0: install hyperfine: apt-get install hyperfine" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The same program, the import line swapped: the only difference between the two runs.
sed 's/^from gpool import Pool/from multiprocessing import Pool/' examples/python/seed.py \
  > "$scratch/seed_multiprocessing.py"
grep -q '^from multiprocessing import Pool' "$scratch/seed_multiprocessing.py"
hyperfine --warmup 3 --runs 20 -N \
  --command-name multiprocessing.Pool "/usr/bin/python3 $scratch/seed_multiprocessing.py" \
  --command-name gpool.Pool "/usr/bin/python3 $PWD/examples/python/seed.py"
/usr/bin/python3 bench/python/warm_map.py
