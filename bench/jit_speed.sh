#!/usr/bin/env bash
# JIT vs interpreter on Monte Carlo feature-learning limits (issue 6's first target, ≥ 5×):
# programs/mlp2_tanh.tp and programs/mlp3_relu.tp under μP, T = 3, K = 2^18 particles,
# --threads 1, best of 3 each. Both backends compute the same numbers bit for bit (the script
# checks the outputs are identical). Printed per program: interpreter eval_ms / JIT eval_ms,
# the JIT's compile time (timing.jit_ms) and the ratio including it.
# Usage: bench/jit_speed.sh          (TPC=path/to/tpc to use another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
TPC=${TPC:-build/tpc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The backends alternate run by run, so that a slow spell of the machine does not fall on one only.
for program in mlp2_tanh mlp3_relu; do
  for run in 1 2 3; do
    for backend in interp jit; do
      "$TPC" limit "programs/$program.tp" --param mup --data "programs/data/$program.json" --steps 3 \
        --method montecarlo --samples 262144 --threads 1 --backend "$backend" --json - >"$tmp/$program.$backend.$run.json"
    done
  done
done
python3 - "$tmp" <<'PY'
import json, sys, glob, os
tmp = sys.argv[1]
for program in ["mlp2_tanh", "mlp3_relu"]:
    def runs(b): return [json.load(open(f)) for f in sorted(glob.glob(os.path.join(tmp, f"{program}.{b}.*.json")))]
    interp, jit = runs("interp"), runs("jit")
    outputs = lambda r: [s["outputs"] for s in r["limit"]["steps"]]
    assert all(outputs(r) == outputs(interp[0]) for r in interp + jit), f"{program}: the backends disagree"
    best = lambda rs, key: min(r["timing"][key] for r in rs)
    i, j, c = best(interp, "eval_ms"), best(jit, "eval_ms"), best(jit, "jit_ms")
    z = jit[0]["limit"]["z_program"]
    print(f"{program} mup T=3 K=2^18 --threads 1 ({z['particle_instructions']} particle instructions, "
          f"{z['passes']} passes), best of 3: interpreter {i:.0f} ms, JIT {j:.0f} ms (+ {c:.0f} ms compile); "
          f"ratio {i / j:.2f}x eval, {i / (j + c):.2f}x including compilation; outputs identical")
PY
