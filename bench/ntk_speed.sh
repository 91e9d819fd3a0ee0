#!/usr/bin/env bash
# The NTK of a depth-5 ReLU MLP (bench/programs/mlp5_relu.tp) on P = 2000 inputs: tpc's kernel
# derivation + evaluator (build/tpc_bench_ntk) against the same closed-form recursion in PyTorch
# float64 (bench/ntk_relu_reference.py), both on 2 threads, best of 5 runs each, in one run of
# this script. tpc runs with each backend (jit: the tiles compiled by LLVM, compile time
# included; interp: the interpreter). Prints the times, the ratios (target: tpc at least 3x
# faster) and the largest relative difference of the kernels (the backends' are identical).
# Usage: bench/ntk_speed.sh [P]      (needs Debian's python3-torch; installed here if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
P=${1:-2000}
if ! /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -qq --no-install-recommends python3-torch python3-numpy
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ours=$(build/tpc_bench_ntk bench/programs/mlp5_relu.tp "$P" 2 5 "$tmp/in.bin" "$tmp/tpc.bin" jit)
interp=$(build/tpc_bench_ntk bench/programs/mlp5_relu.tp "$P" 2 5 "$tmp/in.bin" "$tmp/interp.bin" interp)
cmp -s "$tmp/tpc.bin" "$tmp/interp.bin" || { echo "the jit and interp kernels differ" >&2; exit 1; }
ref=$(/usr/bin/python3 bench/ntk_relu_reference.py "$tmp/in.bin" "$P" 10 5 "$tmp/ref.bin" --threads 2 --repeats 5)
/usr/bin/python3 - "$ours" "$ref" "$tmp/tpc.bin" "$tmp/ref.bin" "$interp" <<'PY'
import json, sys
import numpy as np
ours, ref, interp = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[5])
a, b = np.fromfile(sys.argv[3]), np.fromfile(sys.argv[4])
print(f"NTK depth 5, P = {ours['P']}: tpc jit {ours['seconds']:.3f} s (interp {interp['seconds']:.3f} s), "
      f"PyTorch {ref['torch']} float64 {ref['seconds']:.3f} s, ratio {ref['seconds'] / ours['seconds']:.2f}x "
      f"(interp {ref['seconds'] / interp['seconds']:.2f}x; target >= 3x); "
      f"max relative difference {np.max(np.abs(a - b) / np.abs(b)):.1e}")
PY
