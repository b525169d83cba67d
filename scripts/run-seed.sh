#!/usr/bin/env bash
# The seed job: installs what is missing, builds, and runs `gpool map square 1..5000` on the
# local default cluster (a coordinator and one worker per core, on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build.sh > /dev/null
exec build/bin/gpool map square 1..5000
