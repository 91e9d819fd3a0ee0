#!/usr/bin/env bash
# How good are the estimates that admit or refuse a request (compiler/driver/Budget.cpp)?
# Runs a few requests of each kind once and prints, per request, the estimate the report
# records (timing.estimated_ms) against the measured time (the report's parse + passes + jit +
# eval), and their ratio. A refusal at --max-minutes M happens when the estimate exceeds M, so
# ratios within 0.5–2 keep refusals to requests that really take about that long.
# Usage: bench/estimates.sh          (TPC=path/to/tpc to use another binary; ~2 min)
set -euo pipefail
cd "$(dirname "$0")/.."
TPC=${TPC:-build/tpc}
tanh="programs/mlp2_tanh.tp --data programs/data/mlp2_tanh.json --param mup"
relu="programs/mlp3_relu.tp --data programs/data/mlp3_relu.json --param mup"
requests=(
  "simulate $tanh --steps 10 --width 2048 --seeds 2"
  "simulate $relu --steps 20 --width 1024 --seeds 2"
  "simulate $tanh --steps 50 --width 512 --seeds 4"
  "coordcheck $tanh --steps 3 --widths 256,512,1024,2048 --seeds 2"
  "limit $tanh --steps 8 --method montecarlo --samples 65536"
  "limit $tanh --steps 8 --method montecarlo --samples 65536 --backend interp"
  "limit $tanh --steps 12 --method montecarlo --samples 16384"
  "limit $relu --steps 6 --method montecarlo --samples 65536"
)
for request in "${requests[@]}"; do
  # shellcheck disable=SC2086
  "$TPC" $request --json - | python3 -c '
import json, sys
r = json.load(sys.stdin)
t = r["timing"]
measured = sum(t.get(k, 0) for k in ("parse_ms", "passes_ms", "jit_ms", "eval_ms"))
estimate = t.get("estimated_ms", -1)
print(f"{sys.argv[1]}\n    estimated {estimate/1000:8.2f} s   measured {measured/1000:8.2f} s   ratio {estimate/measured:5.2f}")
' "$request"
done
