#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and fuzzes the readers of user input:
# the .tp frontend, the data-file reader, the parametrization reader and tpc report's reader
# and page (fuzz/Targets.h).
#
#   scripts/fuzz.sh [SECONDS]        each target for SECONDS (default 30)
#   FUZZ_RUNS=N scripts/fuzz.sh      each target for N executions instead
#
# Seeds: programs/ and the malformed programs of tests/golden/diagnostics (frontend),
# programs/data (dataset), fuzz/corpus/parametrization, fuzz/corpus/report; what the fuzzer learns goes to
# build-fuzz/corpus/TARGET (not checked in; TARGET = frontend, dataset, parametrization, report). A
# crash, hang (10 s), leak, 2 GB of memory or a fuzzer that does not run stops with exit 1;
# the input is in build-fuzz/artifacts/TARGET/ and the log in build-fuzz/TARGET.log: with
# the fix, copy the input into fuzz/regressions/TARGET/ (replayed by
# tests/unit/FuzzRegressionTest.cpp).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
# -O1 with line tables: quick to build (CI builds it every run), stack traces with lines.
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" \
  -DTPC_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target tpc_fuzz_Frontend tpc_fuzz_Dataset tpc_fuzz_Parametrization tpc_fuzz_Report
limit=(-max_total_time="$seconds")
[ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
run() {  # TARGET SEED_DIR...
  local target=$1 name
  name=$(echo "$1" | tr '[:upper:]' '[:lower:]')  # the folder name under fuzz/regressions
  shift
  mkdir -p "build-fuzz/corpus/$name"
  rm -rf "build-fuzz/artifacts/$name" && mkdir -p "build-fuzz/artifacts/$name"
  echo "== fuzz $name (${limit[*]})"
  set +e
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "./build-fuzz/tpc_fuzz_$target" "build-fuzz/corpus/$name" "$@" "${limit[@]}" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$name/" \
    >"build-fuzz/$name.log" 2>&1
  local status=$?
  set -e
  grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY|fuzz target failure" \
    "build-fuzz/$name.log" || true
  if [ "$status" -ne 0 ] || compgen -G "build-fuzz/artifacts/$name/*" >/dev/null; then
    echo "fuzz $name failed (exit $status; log build-fuzz/$name.log); failing inputs in build-fuzz/artifacts/$name/:" \
      "fix, then copy them into fuzz/regressions/$name/" >&2
    exit 1
  fi
}
run Frontend programs tests/golden/diagnostics
run Dataset programs/data
run Parametrization fuzz/corpus/parametrization
run Report fuzz/corpus/report
echo "== fuzzing found nothing"
