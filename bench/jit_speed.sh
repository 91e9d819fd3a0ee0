#!/usr/bin/env bash
# JIT vs interpreter on a Monte Carlo feature-learning limit (issue 6's first target, ≥ 5×):
# programs/mlp2_tanh.tp under μP, T = 3, K = 2^18 particles, --threads 1, best of 3 each.
# Both backends compute the same numbers bit for bit (the script checks the outputs are
# identical); the ratio is interpreter eval_ms / JIT eval_ms, and the JIT's compile time
# (timing.jit_ms) is printed on its own.
# Usage: bench/jit_speed.sh          (TPC=path/to/tpc to use another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
TPC=${TPC:-build/tpc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for backend in interp jit; do
  for run in 1 2 3; do
    "$TPC" limit programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json --steps 3 \
      --method montecarlo --samples 262144 --threads 1 --backend "$backend" --json - >"$tmp/$backend.$run.json"
  done
done
python3 - "$tmp" <<'PY'
import json, sys, glob, os
tmp = sys.argv[1]
def runs(b): return [json.load(open(f)) for f in sorted(glob.glob(os.path.join(tmp, b + ".*.json")))]
interp, jit = runs("interp"), runs("jit")
outputs = lambda r: [s["outputs"] for s in r["limit"]["steps"]]
assert all(outputs(r) == outputs(interp[0]) for r in interp + jit), "the backends disagree"
best = lambda rs, key: min(r["timing"][key] for r in rs)
i, j, c = best(interp, "eval_ms"), best(jit, "eval_ms"), best(jit, "jit_ms")
print(f"mlp2_tanh mup T=3 K=2^18 --threads 1, best of 3: interpreter {i:.0f} ms, JIT {j:.0f} ms "
      f"(+ {c:.0f} ms compile); ratio {i / j:.2f}x eval, {i / (j + c):.2f}x including compilation; outputs identical")
PY
