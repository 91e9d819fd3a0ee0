#!/usr/bin/env python3
"""PyTorch float64 reference for the closed-form NTK of a deep ReLU MLP.

Timing baseline for the C++ benchmark. Computes the infinite-width NTK of
f = W_out z_L, z_l = relu(W_l z_{l-1}), z_0 = x, in NTK parametrization with
all weight variances 1, no biases, readout variance 1. The input kernel is the
plain dot product (no 1/D factor):

    S = X X^T;  T = S
    repeat L times (L hidden ReLU layers):
        d = diag(S);  n = sqrt(d_i d_j);  theta = arccos(clamp(S / n, -1, 1))
        S_new = n (sin theta + (pi - theta) cos theta) / (2 pi)   # E[relu(u) relu(v)]
        Sdot  = (pi - theta) / (2 pi)                             # E[step(u) step(v)]
        T = S_new + T * Sdot;  S = S_new
    output T (P x P)

All P x P entries are computed (symmetry is not exploited), on CPU in float64.

Usage:
    python3 bench/ntk_relu_reference.py INPUTS.bin P D L OUT.bin [--threads 2] [--repeats 3]

INPUTS.bin: P x D float64, row-major, little-endian, no header. OUT.bin: T as
P x P float64, row-major, little-endian. Only the recursion is timed
(time.perf_counter, best of --repeats); one JSON line is printed to stdout:
{"seconds", "repeats", "threads", "P", "L", "torch"}.
"""
import argparse, json, math, os, sys, time

try:
    import torch
except ImportError:  # e.g. a pyenv python3 shadowing Debian's python3-torch
    if os.path.exists("/usr/bin/python3") and sys.executable != "/usr/bin/python3":
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise
import numpy as np


def ntk_relu(X, L):
    S = X @ X.T
    T = S
    for _ in range(L):
        d = torch.diagonal(S)
        n = torch.sqrt(d[:, None] * d[None, :])
        theta = torch.arccos(torch.clamp(S / n, -1.0, 1.0))
        S_new = n * (torch.sin(theta) + (math.pi - theta) * torch.cos(theta)) / (2 * math.pi)
        Sdot = (math.pi - theta) / (2 * math.pi)
        T = S_new + T * Sdot
        S = S_new
    return T


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs"); ap.add_argument("P", type=int); ap.add_argument("D", type=int)
    ap.add_argument("L", type=int); ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    x = np.fromfile(a.inputs, dtype="<f8")
    if x.size != a.P * a.D:
        sys.exit(f"{a.inputs}: {x.size} values, expected P*D = {a.P * a.D}")
    X = torch.from_numpy(x.reshape(a.P, a.D).astype(np.float64))
    best = math.inf
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        T = ntk_relu(X, a.L)
        best = min(best, time.perf_counter() - t0)
    T.numpy().astype("<f8").tofile(a.out)
    print(json.dumps({"seconds": best, "repeats": a.repeats, "threads": a.threads,
                      "P": a.P, "L": a.L, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
