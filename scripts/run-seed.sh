#!/usr/bin/env bash
# The seed job: installs what is missing (the build packages only), builds the three binaries,
# and runs `gpool map square 1..5000` on the local default cluster (a coordinator and one worker
# per core, on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
echo "Building gpool, gpool-coordinator and gpool-worker into build/bin (log: build/seed.log)" >&2
mkdir -p build
scripts/build.sh seed > build/seed.log 2>&1 || { tail -n 40 build/seed.log >&2; exit 1; }
exec build/bin/gpool map square 1..5000
