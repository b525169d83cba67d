#!/usr/bin/env bash
# The sanitizer stage of the test suite (scripts/run-tests.sh runs it after the plain build):
#   1. builds everything with clang, AddressSanitizer and UndefinedBehaviorSanitizer into
#      build-sanitize/ (the libFuzzer harnesses of fuzz/ included) and runs the whole ctest
#      suite there: unit, integration with the real binaries, Python examples, and each
#      harness replaying its corpus;
#   2. runs each harness for GPOOL_FUZZ_SECONDS (default 60) from its seed corpus, two at a
#      time; anything it finds fails the stage and is left in build-sanitize/fuzz-findings/.
# Usage: scripts/run-sanitizers.sh            (expects scripts/install-deps.sh test done)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${GPOOL_FUZZ_SECONDS:-60}
build=build-sanitize

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DGPOOL_SANITIZE=address,undefined -DGPOOL_STATIC_DEPS=OFF \
  -DGPOOL_FUZZ=ON -DGPOOL_BUILD_TESTS=ON -DGPOOL_BUILD_BENCH=OFF > "$build.configure.log" \
  || { cat "$build.configure.log"; exit 1; }
rm -f "$build.configure.log"
ninja -C "$build"

# halt_on_error: the first report fails the test that caused it. Leaks are reported too.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
started=$SECONDS
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" --timeout 600
echo "sanitizers: the ctest suite under ASan+UBSan took $((SECONDS - started)) s"

# New inputs go to a scratch corpus, never into the repository's seeds.
findings="$build/fuzz-findings"
rm -rf "$findings"
mkdir -p "$findings"
fuzzers=()
for source in fuzz/fuzz_*.cc; do fuzzers+=("$(basename "$source" .cc)"); done
run_fuzzer() {
  local name=$1
  mkdir -p "$findings/$name/corpus"
  "$build/bin/$name" "$findings/$name/corpus" "fuzz/corpus/$name" \
    -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$findings/$name/" > "$findings/$name/log" 2>&1
}
failed=()
for ((i = 0; i < ${#fuzzers[@]}; i += 2)); do
  pids=()
  for name in "${fuzzers[@]:i:2}"; do
    run_fuzzer "$name" & pids+=("$!:$name")
  done
  for entry in "${pids[@]}"; do
    if ! wait "${entry%%:*}"; then failed+=("${entry#*:}"); fi
  done
done
for name in "${fuzzers[@]}"; do
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$findings/$name/log")
  corpus=$(find "$findings/$name/corpus" "fuzz/corpus/$name" -type f | wc -l)
  echo "fuzz: $name ran ${runs:-?} inputs in ${fuzz_seconds} s; corpus $corpus inputs"
done
if (( ${#failed[@]} > 0 )); then
  for name in "${failed[@]}"; do
    echo "fuzz: $name FOUND A CRASH; its log (tail):" >&2
    tail -n 40 "$findings/$name/log" >&2
    echo "fuzz: the input is in $findings/$name/ (crash-*, leak-*, timeout-*): add it to" \
         "fuzz/corpus/$name and fix the cause" >&2
  done
  exit 1
fi
