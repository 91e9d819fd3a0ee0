#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and fuzzes the readers of user input:
# the .tp frontend, the data-file reader and the parametrization reader (fuzz/Targets.h).
#
#   scripts/fuzz.sh [SECONDS]        each target for SECONDS (default 30)
#   FUZZ_RUNS=N scripts/fuzz.sh      each target for N executions instead
#
# Seeds: programs/ and the malformed programs of tests/golden/diagnostics (frontend),
# programs/data (dataset), fuzz/corpus/parametrization; what the fuzzer learns goes to
# build-fuzz/corpus/TARGET (not checked in). A crash, hang (10 s), leak or 2 GB of memory
# stops the run with exit 1; the input is in build-fuzz/artifacts/TARGET/: copy it into
# fuzz/regressions/TARGET/ (replayed by tests/unit/FuzzRegressionTest.cpp) with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTPC_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target tpc_fuzz_Frontend tpc_fuzz_Dataset tpc_fuzz_Parametrization
limit=(-max_total_time="$seconds")
[ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
run() {  # TARGET SEED_DIR...
  local target=$1
  shift
  mkdir -p "build-fuzz/corpus/$target" "build-fuzz/artifacts/$target"
  echo "== fuzz $target (${limit[*]})"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "./build-fuzz/tpc_fuzz_$target" "build-fuzz/corpus/$target" "$@" "${limit[@]}" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$target/" \
    2>&1 | grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY|fuzz target failure" ||
    true
  if compgen -G "build-fuzz/artifacts/$target/*" >/dev/null; then
    echo "fuzz $target: failing input(s) in build-fuzz/artifacts/$target/" >&2
    exit 1
  fi
}
run Frontend programs tests/golden/diagnostics
run Dataset programs/data
run Parametrization fuzz/corpus/parametrization
echo "== fuzzing found nothing"
