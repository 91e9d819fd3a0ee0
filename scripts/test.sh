#!/usr/bin/env bash
# The whole test suite: build, run every test, then the unit tests again under ASan + UBSan,
# then a short fuzz run of each reader of user input (10 s each: CI's whole run stays near 20 min).
set -euo pipefail
shopt -s lastpipe
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

echo "== build (Release)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j "$jobs" | tee build/ctest.log
ctest_count=$(grep -oE 'out of [0-9]+' build/ctest.log | tail -1 | grep -oE '[0-9]+')

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTPC_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs" --target tpc tpc_unit_tests
# One shard per core (gtest sharding): each runs its share of the tests in a process of its own.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rm -f build-asan/unit.*.log
pids=()
for ((shard = 0; shard < jobs; shard++)); do
  GTEST_TOTAL_SHARDS=$jobs GTEST_SHARD_INDEX=$shard ./build-asan/tests/tpc_unit_tests --gtest_brief=1 \
    > "build-asan/unit.$shard.log" 2>&1 &
  pids+=($!)
done
failed=0
for ((shard = 0; shard < jobs; shard++)); do
  wait "${pids[$shard]}" || failed=1
  cat "build-asan/unit.$shard.log"
done
[ "$failed" -eq 0 ] || { echo "unit tests under sanitizers failed"; exit 1; }
asan_count=0
for n in $(cat build-asan/unit.*.log | grep -oE '\[  PASSED  \] [0-9]+' | grep -oE '[0-9]+$'); do asan_count=$((asan_count + n)); done

echo "== fuzzing (10 s per target; scripts/fuzz.sh)"
bash scripts/fuzz.sh 10
echo "== all tests passed (ctest: ${ctest_count}; unit tests under sanitizers: ${asan_count})"
echo "tests: $((ctest_count + asan_count)) passed, 0 failed"
