#!/usr/bin/env bash
# Times `tpc classify` (parse + all passes + exponent analysis) on a 10-hidden-layer
# program: median of 21 runs of the `passes_ms` the report states, per parametrization.
# Usage: bench/classify_speed.sh [path/to/tpc]   (target: under 50 ms)
set -euo pipefail
cd "$(dirname "$0")/.."
tpc=${1:-build/tpc}
for param in mup ntk sp; do
  times=()
  for _ in $(seq 21); do
    times+=("$("$tpc" classify bench/programs/mlp10_tanh.tp --param "$param" --json - |
      python3 -c 'import json,sys; t=json.load(sys.stdin)["timing"]; print(t["parse_ms"] + t["passes_ms"])')")
  done
  median=$(printf '%s\n' "${times[@]}" | sort -g | sed -n 11p)
  echo "classify mlp10_tanh --param $param: median ${median} ms over 21 runs"
done
