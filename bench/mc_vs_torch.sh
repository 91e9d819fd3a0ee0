#!/usr/bin/env bash
# Issue 6's last target: the Monte Carlo limit of a 2-hidden-layer tanh μP network
# (bench/programs/mlp2_tanh_b4.tp: programs/mlp2_tanh.tp on bench/programs/data/mlp2_tanh_b4.json,
# full batch B = 4, 2 eval inputs) after T = 20 steps, K = 65536 particles, against PyTorch
# training the finite network (bench/mlp2_tanh_torch.py, float64, seeds batched) at the width n
# and seed count S that estimate the same infinite-width numbers to the same accuracy. Target:
# PyTorch time / tpc time >= 50. In one run of this script:
#   1. `tpc limit ... --method montecarlo --samples 65536 --threads 2`: the eval outputs f_K[e]
#      after T steps and their standard errors sigma_K[e] (the report's stderr: 16 groups);
#      tpc time = wall time of the whole process (parse, passes, JIT compile, evaluation).
#   2. Validation of the PyTorch code: `tpc simulate` at n = 256 (400 seeds) and PyTorch at n = 256
#      (1000 seeds) agree on every output and loss of every step within 4 combined standard
#      errors (the table and the criterion are printed by bench/mlp2_tanh_torch.py; the script
#      stops if they do not).
#   3. The width/seed rule. Finite-width training estimates f_K[e] with error
#      |bias_e(n)| + sd_e(n)/sqrt(S), bias_e(n) = mean over seeds at width n - limit ~ c_e/n and
#      sd_e(n) the seed standard deviation, ~ n^(-1/2). c_e is fitted (weighted least squares,
#      bias = c/n through 0) to PyTorch runs at n = 64, 128, 256 against the limit's f_K[e]; a
#      free fit f = A + c/n (no f_K) is printed as a check. Then, worst coordinate:
#         n = ceil(max_e |c_e| / sigma_K[e])                so every |bias_e(n)| <= sigma_K[e]
#         S = ceil(max_e (sd_e(n) / sigma_K[e])^2)         so every sd_e(n)/sqrt(S) <= sigma_K[e]
#      with sd_e(n) = sd_e(256) sqrt(256/n) (the sd*sqrt(n) column shows the scaling). Each part
#      of the finite-width error is held to the limit's one-sigma error (total up to 2 sigma_K,
#      lenient to PyTorch; halving both would cost PyTorch ~8x: n x2 -> n^2 x4, S x2).
#   4. PyTorch trains (n, S) (eval outputs only at t = T, the least work), best of up to 3 runs
#      (one if a run takes > 30 s); if all S seeds are projected to take more than 300 s, only
#      the seeds trained in the first >= 120 s are timed and the time is scaled by S/seeds
#      (seeds are independent), which the output says.
#   5. One line: tpc time, PyTorch time, ratio, n, S, sigma_K.
# PyTorch runs with torch.set_num_threads(2) and 2 chunks of seeds at a time (see the header of
# bench/mlp2_tanh_torch.py); tpc with --threads 2. Takes ~2.5 minutes on 2 cores (at most ~10
# if PyTorch takes the scaled path); timings vary between runs (and with other load on the
# machine): compare ratios.
# Usage: bench/mc_vs_torch.sh      (TPC=path/to/tpc to use another binary; needs Debian's
#                                   python3-torch, installed here if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
TPC=${TPC:-build/tpc}
PROG=bench/programs/mlp2_tanh_b4.tp
DATA=bench/programs/data/mlp2_tanh_b4.json
T=20
K=65536
if ! /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -qq --no-install-recommends python3-torch python3-numpy
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
torch_run() {  # torch_run OUT.json ARGS...: bench/mlp2_tanh_torch.py on the program's data, T steps
  local out=$1; shift
  /usr/bin/python3 bench/mlp2_tanh_torch.py --data "$DATA" --steps "$T" --threads 2 "$@" >"$out"
}

# The arithmetic, one subcommand per section; reads the JSON files in $tmp.
cat >"$tmp/an.py" <<'PY'
import json, math, os, sys
tmp, what = sys.argv[1], sys.argv[2]
def load(name): return json.load(open(os.path.join(tmp, name)))
def fin(x, what):   # a finite number, or stop (the reports write non-finite values as strings)
    if not isinstance(x, (int, float)) or not math.isfinite(x):
        sys.exit(f"mc_vs_torch: {what} is not finite: {x}")
    return float(x)
lim = load("limit.json"); st = lim["limit"]["steps"][-1]
E = len(st["outputs"]["f"])
fK = [fin(st["outputs"]["f"][e], f"limit f[{e}]") for e in range(E)]
sK = [fin(st["stderr"]["f"][e], f"limit stderr f[{e}]") for e in range(E)]
wall = float(open(os.path.join(tmp, "tpc_wall")).read())
WIDTHS = (64, 128, 256)

def torch_final(name):      # row t = T of a PyTorch report: mean, sd, stderr per eval output
    r = load(name); row = r["steps_report"][-1]
    assert row["t"] == r["steps"]
    get = lambda k: [fin(row[k]["f"][e], f"PyTorch {k} f[{e}] ({name})") for e in range(E)]
    return r, get("outputs"), get("sd"), get("stderr")

if what == "limit":
    tm = lim["timing"]
    print(f"1. Limit: tpc limit {lim['program']['path']} --param mup, T = {st['t']}, Monte Carlo K = {lim['limit']['samples']}, "
          f"--threads 2, {lim['limit']['base_gaussians']} base Gaussians, {lim['limit']['z_program']['instructions']} instructions")
    print("   f_K at t = T: " + ", ".join(f"f[{e}] = {fK[e]:.6f} ± {sK[e]:.2e}" for e in range(E)))
    print(f"   wall time {wall:.2f} s (timing: parse {tm['parse_ms']:.1f} ms, passes {tm['passes_ms']:.0f} ms, "
          f"JIT {tm.get('jit_ms', 0):.0f} ms, eval {tm['eval_ms']:.0f} ms)")

elif what == "plan":
    print("3. Finite-width bias and seed spread at t = T (PyTorch); bias = mean - f_K, its error sqrt(se^2 + sigma_K^2)")
    print(f"{'n':>6} {'seeds':>6} " + " ".join(f"{'mean f[%d]' % e:>11} {'bias[%d]' % e:>20} {'n*bias[%d]' % e:>10} "
          f"{'sd[%d]' % e:>9} {'sd*sqrt(n)':>10}" for e in range(E)))
    runs = {}
    for n in WIDTHS:
        r, m, sd, se = torch_final(f"torch{n}.json")
        runs[n] = dict(S=r["seeds"], m=m, sd=sd, se=se, b=[m[e] - fK[e] for e in range(E)])
        d = runs[n]
        print(f"{n:>6} {d['S']:>6} " + " ".join(
            f"{d['m'][e]:>11.6f} {d['b'][e]:>+10.6f} ± {math.hypot(d['se'][e], sK[e]):.1e} {n * d['b'][e]:>+10.4f} "
            f"{d['sd'][e]:>9.2e} {d['sd'][e] * math.sqrt(n):>10.4f}" for e in range(E)))
    ne, c_all, nfree = [], [], []
    for e in range(E):
        # bias_e(n) = c/n, weights 1/se_n^2; c's error adds sigma_K, common to every width
        w = [1 / runs[n]["se"][e] ** 2 for n in WIDTHS]
        den = sum(wi / n ** 2 for wi, n in zip(w, WIDTHS))
        a = [wi / n / den for wi, n in zip(w, WIDTHS)]
        c = sum(ai * runs[n]["b"][e] for ai, n in zip(a, WIDTHS))
        cerr = math.sqrt(sum((ai * runs[n]["se"][e]) ** 2 for ai, n in zip(a, WIDTHS)) + (sK[e] * sum(a)) ** 2)
        # check: f_n = A + C/n fitted without f_K (A: the finite networks' own extrapolation)
        x = [1 / n for n in WIDTHS]; y = [runs[n]["m"][e] for n in WIDTHS]
        W, Sx, Sy = sum(w), sum(p * q for p, q in zip(w, x)), sum(p * q for p, q in zip(w, y))
        Sxx, Sxy = sum(p * q * q for p, q in zip(w, x)), sum(p * q * r for p, q, r in zip(w, x, y))
        det = W * Sxx - Sx * Sx
        A, C = (Sxx * Sy - Sx * Sxy) / det, (W * Sxy - Sx * Sy) / det
        Aerr, Cerr = math.sqrt(Sxx / det), math.sqrt(W / det)
        chi2 = sum(p * (q - A - C * r) ** 2 for p, r, q in zip(w, x, y))
        print(f"   f[{e}]: bias = c/n against f_K: c = {c:+.4f} ± {cerr:.4f};  free fit A + C/n: A = {A:.6f} ± {Aerr:.1e} "
              f"(f_K - A = {(fK[e] - A) / math.hypot(Aerr, sK[e]):+.2f} combined stderr), C = {C:+.4f} ± {Cerr:.4f}, "
              f"chi2 = {chi2:.1f} for {len(WIDTHS) - 2} dof")
        ne.append(abs(c) / sK[e]); c_all.append((c, cerr)); nfree.append(abs(C) / sK[e])
    n = max(1, math.ceil(max(ne)))
    nmax = max(WIDTHS)
    sdn = [runs[nmax]["sd"][e] * math.sqrt(nmax / n) for e in range(E)]
    Se = [(sdn[e] / sK[e]) ** 2 for e in range(E)]
    S = max(2, math.ceil(max(Se)))
    print("   rule (worst coordinate): n = ceil(max_e |c_e|/sigma_K[e]) = ceil(max(" +
          ", ".join(f"{abs(c_all[e][0]):.4f}/{sK[e]:.2e} = {ne[e]:.0f}" for e in range(E)) + f")) = {n}")
    print(f"     (with c_e -/+ its error: n from {math.ceil(max(max(abs(c) - ce, 0) / sK[e] for e, (c, ce) in enumerate(c_all)))} "
          f"to {math.ceil(max((abs(c) + ce) / sK[e] for e, (c, ce) in enumerate(c_all)))}; with the free fit's C: "
          f"{math.ceil(max(nfree))})")
    print(f"     S = ceil(max_e (sd_e(n)/sigma_K[e])^2), sd_e(n) = sd_e({nmax})*sqrt({nmax}/n): max(" +
          ", ".join(f"({sdn[e]:.2e}/{sK[e]:.2e})^2 = {Se[e]:.1f}" for e in range(E)) + f") -> S = {S}")
    json.dump({"n": n, "S": S}, open(os.path.join(tmp, "plan.json"), "w"))
    print(n, S, file=open(os.path.join(tmp, "plan.txt"), "w"))

elif what == "final":
    plan = load("plan.json")
    r, m, sd, se = torch_final("timed.json")
    err = [abs(m[e] - fK[e]) for e in range(E)]
    print(f"4. PyTorch {r['torch']} float64 at n = {plan['n']}, S = {plan['S']}: " +
          ", ".join(f"f[{e}] = {m[e]:.6f} ± {se[e]:.1e} (|f - f_K| = {err[e]:.1e}, sigma_K = {sK[e]:.1e})" for e in range(E)))
    if r["scaled"]:
        print(f"   SCALED: timed {r['seeds_timed']} of {r['seeds']} seeds in {r['measured_seconds']:.2f} s; "
              f"time for all S = {r['measured_seconds']:.2f} s x {r['seeds']}/{r['seeds_timed']} = {r['seconds']:.2f} s")
    else:
        print(f"   all {r['seeds']} seeds trained; best of {r['runs']} run(s): {r['seconds']:.2f} s")
    tt, pt = wall, r["seconds"]
    print(f"mlp2_tanh_b4 mup T={st['t']} B=4: tpc limit K={lim['limit']['samples']} {tt:.2f} s, "
          f"PyTorch n={plan['n']} S={plan['S']} {pt:.2f} s{' (scaled)' if r['scaled'] else ''}, "
          f"ratio PyTorch/tpc {pt / tt:.2f}x (target >= 50x: {'met' if pt / tt >= 50 else 'not met'}); "
          f"sigma_K = [{', '.join(f'{s:.2e}' for s in sK)}]")
PY

echo "Monte Carlo limit vs PyTorch at equal accuracy: $PROG --param mup, T = $T, tpc = $TPC"
# 1. the limit, timed as a process
t0=$(date +%s%N)
"$TPC" limit "$PROG" --param mup --data "$DATA" --steps "$T" --method montecarlo --samples "$K" \
  --threads 2 --json "$tmp/limit.json" >/dev/null
t1=$(date +%s%N)
echo "$(( (t1 - t0) / 1000000 ))e-3" >"$tmp/tpc_wall"
python3 "$tmp/an.py" "$tmp" limit
echo

# 2. validation at n = 256 (this PyTorch run is also the n = 256 point of section 3)
echo "2. Validation: PyTorch vs tpc simulate at n = 256, every step"
"$TPC" simulate "$PROG" --param mup --data "$DATA" --steps "$T" --width 256 --seeds 400 --threads 2 \
  --json "$tmp/sim256.json" >/dev/null
torch_run "$tmp/torch256.json" --width 256 --seeds 1000 --seed 0 --all-steps --check-against "$tmp/sim256.json"
echo

# 3. bias and spread at n = 64, 128 (256 above): standard errors ~2e-4, well under the bias
torch_run "$tmp/torch64.json" --width 64 --seeds 4000 --seed 0
torch_run "$tmp/torch128.json" --width 128 --seeds 2000 --seed 0
python3 "$tmp/an.py" "$tmp" plan
echo

# 4. the timed run at (n, S), seeds independent of the runs above
read -r N S <"$tmp/plan.txt"
torch_run "$tmp/timed.json" --width "$N" --seeds "$S" --seed 1000000 --repeats 3 --max-seconds 300 --time-budget 120
python3 "$tmp/an.py" "$tmp" final
