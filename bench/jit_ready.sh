#!/usr/bin/env bash
# Time from reading the file to a ready JIT on a 10-layer program (issue 6's target: ≤ 100 ms):
# bench/programs/mlp10_tanh.tp (ten hidden tanh layers) under μP, the feature-learning limit of
# T = 1 and 2 steps. "Ready" is the report's parse_ms + passes_ms + jit_ms: reading and parsing
# the program, every pass down to the Z-program, code generation and LLVM compilation, before
# the first particle is evaluated. Median of 5 runs each; 4096 particles (evaluation not timed);
# with --threads 1 and 2 (the LLVM work is split over the worker threads: Jit::addAll).
# Usage: bench/jit_ready.sh          (TPC=path/to/tpc to use another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
TPC=${TPC:-build/tpc}
for threads in 1 2; do
for steps in 1 2; do
  for run in 1 2 3 4 5; do
    "$TPC" limit bench/programs/mlp10_tanh.tp --param mup --data bench/programs/data/mlp10_tanh.json \
      --steps "$steps" --method montecarlo --samples 4096 --threads "$threads" --json -
  done | python3 -c '
import json, sys, statistics
decoder, text, reports = json.JSONDecoder(), sys.stdin.read(), []
while text.strip():
    report, end = decoder.raw_decode(text.lstrip())
    reports.append(report)
    text = text.lstrip()[end:]
ready = [r["timing"]["parse_ms"] + r["timing"]["passes_ms"] + r["timing"]["jit_ms"] for r in reports]
jit = [r["timing"]["jit_ms"] for r in reports]
z = reports[0]["limit"]["z_program"]
instructions, passes, functions = z["particle_instructions"], z["passes"], z["compiled_functions"]
print(f"mlp10_tanh mup T={sys.argv[1]} --threads {sys.argv[2]} ({instructions} particle instructions, {passes} passes, "
      f"{functions} functions): "
      f"ready JIT in {statistics.median(ready):.0f} ms (median of {len(ready)}; LLVM {statistics.median(jit):.0f} ms); target <= 100 ms")
' "$steps" "$threads"
done
done
