#!/usr/bin/env bash
# Cost and accuracy of the feature-learning (muP) limit of programs/mlp2_tanh.tp (2 hidden tanh
# layers, one n x n matrix, 2 eval examples), evaluated by Monte Carlo over particles, against
# finite-width `tpc simulate`. Three measurements, in one run of this script:
#   1. cost vs training steps T (K = 2^16 particles, T = 1, 2, 4, 8): eval_ms, base Gaussians and
#      Z-program instructions (total, and particle instructions = loops over the K particles).
#      Each step adds a fixed number of Gram-Schmidt fields per matrix (bases ~ T) and each new
#      field is projected on every earlier one (instructions ~ T^2), so time is O(K T^2); the
#      exponents are fitted from T = 4 -> 8 as log(x(8)/x(4))/log 2.
#   2. cost vs particles K (T = 3, K = 2^14 .. 2^20): eval_ms and the largest Monte Carlo stderr
#      of f; expected time ~ K and stderr ~ K^(-1/2) (least-squares exponents on log-log).
#   3. time to an absolute accuracy eps = 2e-3 on f at T = 3 (both eval examples):
#      limit: K_eps with largest stderr = eps/2 from stderr*sqrt(K) of step 2, run at K_eps;
#      simulation: bias |mean f_n - f_ref| against the limit at K = 2^21 (f_ref) for
#      n = 64 .. 1024; the width n_eps whose bias is < eps/2 (measured, or extrapolated as
#      bias ~ C/n from the two largest widths), the seeds S_eps = (sd_n/(eps/2))^2 that bring the
#      seed average's standard error to eps/2, and S_eps times the time per seed at n_eps.
#      Prints both times and the ratio simulation / limit with every intermediate number, then
#      the same with the bias taken from a fit f_n = A + C/n over all widths (no f_ref): f_ref's
#      own error (~5e-4) can exceed the bias at n = 512, 1024.
# All timings are the report's timing.eval_ms on --threads 1 (cleaner scaling; eval_ms of the
# limit includes its 16 group runs for the stderr, which cost as much as the full run), except
# the reference limit (--threads 2, its time is not part of the comparison). Takes ~5 minutes
# on a 2-core machine. Timings vary between runs (up to 1.5x on a small VM): compare ratios.
# Usage: bench/feature_limit.sh          (TPC=path/to/tpc to use another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
TPC=${TPC:-build/tpc}
PROG=programs/mlp2_tanh.tp
DATA=programs/data/mlp2_tanh.json
EPS=2e-3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# limit T K THREADS OUT.json [SEED]: Monte Carlo limit (seed 0 unless given), report to OUT.json
limit() {
  "$TPC" limit "$PROG" --param mup --data "$DATA" --steps "$1" --method montecarlo \
    --samples "$2" --threads "$3" --seed "${5:-0}" --json - >"$4"
}
# simulate N SEEDS OUT.json: width-N simulation averaged over SEEDS initialisations, T = 3
simulate() {
  "$TPC" simulate "$PROG" --param mup --data "$DATA" --steps 3 --width "$1" --seeds "$2" \
    --threads 1 --seed 0 --json - >"$3"
}

# The arithmetic, one subcommand per section; reads the JSON reports in $tmp.
cat >"$tmp/an.py" <<'PY'
import glob, json, math, os, sys
tmp, what = sys.argv[1], sys.argv[2]
EPS = float(os.environ["EPS"])
def load(name): return json.load(open(os.path.join(tmp, name)))
def last(rep, key): return rep[key]["steps"][-1]            # step t = T
def slope(xs, ys):                                          # least-squares slope of log y on log x
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)

if what == "steps":
    print(f"1. Cost vs steps T: Monte Carlo, K = {load('steps1.json')['limit']['samples']} particles, --threads 1")
    print(f"{'T':>4} {'bases':>6} {'instrs':>7} {'particle':>9} {'eval_ms':>9} {'ns per particle':>16}")
    print(f"{'':>4} {'':>6} {'':>7} {'instrs':>9} {'':>9} {'x particle instr':>16}")
    rows = {}
    for T in (1, 2, 4, 8):
        rep = load(f"steps{T}.json"); ir = json.load(open(os.path.join(tmp, f"ir{T}.json")))
        ms, K = rep["timing"]["eval_ms"], rep["limit"]["samples"]
        assert rep["limit"]["base_gaussians"] == ir["bases"]
        rows[T] = (ir["bases"], ir["instrs"], ir["particle"], ms)
        # the full run plus the 16 group runs = 2 passes over the K particles
        print(f"{T:>4} {ir['bases']:>6} {ir['instrs']:>7} {ir['particle']:>9} {ms:>9.0f} {ms * 1e6 / (2 * K * ir['particle']):>16.2f}")
    g = lambda i: math.log(rows[8][i] / rows[4][i]) / math.log(2)
    print(f"growth exponents T = 4 -> 8, log(x(8)/x(4))/log 2: time {g(3):.2f}, instructions {g(1):.2f}, "
          f"particle instructions {g(2):.2f}, base Gaussians {g(0):.2f}")
    print("(theory: bases ~ T, instructions ~ T^2 (Gram-Schmidt), time O(K T^2); the per-step tanh/tanh' and")
    print(" forward/backward instructions are ~ T and cost more per particle than the projections' mul/add,")
    print(" so at small T the time exponent lies between 1 and 2)")

elif what == "particles":
    print("2. Cost vs particles K: T = 3, --threads 1")
    print(f"{'K':>9} {'eval_ms':>9} {'max stderr f':>13} {'stderr*sqrt(K)':>15}")
    Ks, ms, se = [], [], []
    for p in (14, 16, 18, 20):
        rep = load(f"K{p}.json"); K = rep["limit"]["samples"]
        s = max(last(rep, "limit")["stderr"]["f"])
        Ks.append(K); ms.append(rep["timing"]["eval_ms"]); se.append(s)
        print(f"{K:>9} {ms[-1]:>9.0f} {s:>13.3e} {s * math.sqrt(K):>15.3f}")
    print(f"fitted exponents (least squares on log-log, 4 points): time ~ K^{slope(Ks, ms):.2f} (theory 1), "
          f"stderr ~ K^{slope(Ks, se):.2f} (theory -0.5)")
    print("(each stderr is the spread of 16 group estimates: itself uncertain by ~1/sqrt(30) = 18%)")
    c = math.exp(sum(math.log(s * math.sqrt(K)) for s, K in zip(se, Ks)) / len(Ks))
    Keps = (c / (EPS / 2)) ** 2
    Kr = int(math.ceil(Keps / 1024) * 1024)
    json.dump({"c": c, "Keps": Keps, "K": Kr}, open(os.path.join(tmp, "keps.json"), "w"))
    print()
    print(f"3. Time to accuracy eps = {EPS:g} on f at T = 3 (both eval examples)")
    print("Limit (Monte Carlo, --threads 1):")
    print(f"  c = geometric mean of max stderr*sqrt(K) over the 4 runs = {c:.4f}")
    print(f"  K_eps = (c/(eps/2))^2 = ({c:.4f}/{EPS / 2:g})^2 = {Keps:.0f} -> {Kr} (multiple of 1024)")

elif what == "compare":
    k = json.load(open(os.path.join(tmp, "keps.json")))
    rep = load("Keps.json")
    lim_ms = rep["timing"]["eval_ms"]
    st = last(rep, "limit")
    print(f"  run at K = {k['K']}: f = [{st['outputs']['f'][0]:.5f}, {st['outputs']['f'][1]:.5f}], "
          f"max stderr {max(st['stderr']['f']):.3e} (target {EPS / 2:g}), eval_ms {lim_ms:.0f}")
    print(f"  limit time to accuracy: {lim_ms / 1000:.2f} s")
    ref = load("ref.json"); rst = last(ref, "limit")
    fref, sref = rst["outputs"]["f"], rst["stderr"]["f"]
    print(f"Reference f_ref: limit at K = {ref['limit']['samples']}, --seed {ref['limit']['seed']} (independent of the run above), "
          f"--threads 2, eval_ms {ref['timing']['eval_ms']:.0f}:")
    print(f"  f_ref = [{fref[0]:.5f} +- {sref[0]:.1e}, {fref[1]:.5f} +- {sref[1]:.1e}]")
    print("Simulation (--threads 1), T = 3; bias_e = mean f_n[e] - f_ref[e], its error sqrt(se_n^2 + se_ref^2);")
    print("sd = seed standard deviation = stderr*sqrt(S) (larger of the two examples)")
    print(f"{'n':>5} {'seeds':>6} {'mean f[0]':>10} {'mean f[1]':>10} {'bias[0]':>19} {'bias[1]':>19} "
          f"{'n*bias[0]':>9} {'n*bias[1]':>9} {'sd':>8} {'sd*sqrt(n)':>10} {'ms/seed':>8}")
    sims = {}
    for path in glob.glob(os.path.join(tmp, "sim*.json")):
        r = json.load(open(path)); s = r["simulation"]; stp = s["steps"][-1]
        S, n = s["seeds"], s["width"]
        se = stp["stderr"]["f"]
        bias = [stp["outputs"]["f"][e] - fref[e] for e in (0, 1)]
        berr = [math.hypot(se[e], sref[e]) for e in (0, 1)]
        sd = max(x * math.sqrt(S) for x in se)
        sims[n] = dict(S=S, f=stp["outputs"]["f"], se=se, bias=bias, berr=berr, sd=sd,
                       per=r["timing"]["eval_ms"] / S)
    for n in sorted(sims):
        d = sims[n]
        b = [f"{d['bias'][e]:+.5f} +- {d['berr'][e]:.5f}" for e in (0, 1)]
        print(f"{n:>5} {d['S']:>6} {d['f'][0]:>10.5f} {d['f'][1]:>10.5f} {b[0]:>19} {b[1]:>19} "
              f"{n * d['bias'][0]:>9.3f} {n * d['bias'][1]:>9.3f} {d['sd']:>8.5f} {d['sd'] * math.sqrt(n):>10.3f} {d['per']:>8.2f}")
    widths = sorted(sims)

    def simulation_time(neps, label):
        # seeds and time at width neps: measured if neps is a measured width, else from the
        # nearest one, scaling the seed sd of f like n^(-1/2) (see the sd*sqrt(n) column) and the
        # time per seed like n^2
        nm = min(widths, key=lambda n: abs(math.log(n / neps)))
        if nm == neps:
            sd, per = sims[nm]["sd"], sims[nm]["per"]
            print(f"  sd at n_eps = {sd:.5f}, time per seed {per:.2f} ms (measured at n = {nm})")
        else:
            sd = sims[nm]["sd"] * math.sqrt(nm / neps)
            per = sims[nm]["per"] * (neps / nm) ** 2
            print(f"  sd at n_eps = sd_{nm}*sqrt({nm}/n_eps) = {sims[nm]['sd']:.5f}*{math.sqrt(nm / neps):.4f} = {sd:.5f}")
            print(f"  time per seed at n_eps = {sims[nm]['per']:.2f} ms*(n_eps/{nm})^2 = "
                  f"{sims[nm]['per']:.2f}*{(neps / nm) ** 2:.3f} = {per:.2f} ms")
        S = (sd / (EPS / 2)) ** 2
        ms = per * S
        print(f"  seeds S_eps = (sd/(eps/2))^2 = ({sd:.5f}/{EPS / 2:g})^2 = {S:.0f}")
        print(f"  simulation time to accuracy = {per:.2f} ms x {S:.0f} = {ms / 1000:.2f} s")
        print(f"{label}: simulation / limit = {ms / 1000:.2f} s / {lim_ms / 1000:.2f} s = {ms / lim_ms:.2f}x")

    # A width qualifies when its bias is below eps/2 with 2 standard errors to spare, both examples.
    ok = [n for n in widths if all(abs(sims[n]["bias"][e]) + 2 * sims[n]["berr"][e] < EPS / 2 for e in (0, 1))]
    print(f"  widths with |bias| + 2 err < eps/2 = {EPS / 2:g} on both examples: {ok if ok else 'none'}")
    if ok:
        neps = ok[0]
        print(f"  n_eps = {neps} (measured)")
    else:
        # bias_e(n) = C_e / n through the two largest widths, weighted by the simulations' errors;
        # the error of C_e adds f_ref's error, common to both widths.
        two = widths[-2:]
        neps_e = []
        for e in (0, 1):
            w = [1 / sims[n]["se"][e] ** 2 for n in two]
            den = sum(wi / n ** 2 for wi, n in zip(w, two))
            a = [wi / n / den for wi, n in zip(w, two)]
            C = sum(ai * sims[n]["bias"][e] for ai, n in zip(a, two))
            Cerr = math.sqrt(sum((ai * sims[n]["se"][e]) ** 2 for ai, n in zip(a, two)) + (sref[e] * sum(a)) ** 2)
            ne = abs(C) / (EPS / 2)
            neps_e.append(ne)
            print(f"  extrapolation f[{e}]: bias = C/n through n = {two}: C = {C:+.3f} +- {Cerr:.3f}; "
                  f"n_eps = |C|/(eps/2) = {ne:.0f} (range {max(abs(C) - Cerr, 0) / (EPS / 2):.0f}-{(abs(C) + Cerr) / (EPS / 2):.0f})")
        neps = max(neps_e)
        print(f"  n_eps = {neps:.0f} (larger of the two)")
    simulation_time(neps, "Ratio")

    # Check without f_ref: f_n = A + C/n fitted to all widths (weights 1/se^2). A is the simulations'
    # own estimate of the limit; when the bias at the large widths is not much above f_ref's
    # error, this C (lever arm from the small widths) is the better measure of the bias.
    print("Check without f_ref: f_n[e] = A + C/n, weighted least squares over all widths")
    neps_e = []
    for e in (0, 1):
        w = [1 / sims[n]["se"][e] ** 2 for n in widths]; x = [1 / n for n in widths]; y = [sims[n]["f"][e] for n in widths]
        W, Sx, Sy = sum(w), sum(a * b for a, b in zip(w, x)), sum(a * b for a, b in zip(w, y))
        Sxx, Sxy = sum(a * b * b for a, b in zip(w, x)), sum(a * b * c for a, b, c in zip(w, x, y))
        det = W * Sxx - Sx * Sx
        A, C = (Sxx * Sy - Sx * Sxy) / det, (W * Sxy - Sx * Sy) / det
        chi2 = sum(wi * (yi - A - C * xi) ** 2 for wi, xi, yi in zip(w, x, y))
        ne = abs(C) / (EPS / 2)
        neps_e.append(ne)
        print(f"  f[{e}]: A = {A:.5f} +- {math.sqrt(Sxx / det):.5f} (f_ref {fref[e]:.5f} +- {sref[e]:.5f}), "
              f"C = {C:+.3f} +- {math.sqrt(W / det):.3f}, chi2 = {chi2:.1f} for {len(widths) - 2} dof; n_eps = {ne:.0f}")
    neps = max(neps_e)
    print(f"  n_eps = {neps:.0f} (larger of the two)")
    simulation_time(neps, "Ratio (check without f_ref)")
    print("(as eps -> 0: limit time ~ K_eps ~ eps^-2; simulation time ~ n_eps^2 S_eps ~ n_eps^2 / (n_eps eps^2) ~ eps^-3,")
    print(" as n_eps ~ 1/eps and sd^2 ~ 1/n: the ratio grows like 1/eps)")
PY

export EPS
echo "Feature-learning limit vs simulation: $PROG --param mup, Monte Carlo seed 0, tpc = $TPC"
echo
# 1. growth with T; the instruction counts come from the Z-program listing (`tpc ir --stage limit`)
for T in 1 2 4 8; do
  "$TPC" ir "$PROG" --stage limit --param mup --data "$DATA" --steps "$T" >"$tmp/ir$T.txt"
  python3 - "$tmp/ir$T.txt" >"$tmp/ir$T.json" <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
m = re.search(r"\((\d+) base Gaussians, (\d+) instructions\)", lines[0])
# particle instructions: "Zk = op ..." lines other than references to a base Gaussian
particle = sum(1 for l in lines if re.match(r"\s*Z\d+ = ", l) and not re.match(r"\s*Z\d+ = base ", l))
print(json.dumps({"bases": int(m.group(1)), "instrs": int(m.group(2)), "particle": particle}))
PY
  limit "$T" 65536 1 "$tmp/steps$T.json"
done
python3 "$tmp/an.py" "$tmp" steps
echo

# 2. growth with K at T = 3
for p in 14 16 18 20; do limit 3 $((1 << p)) 1 "$tmp/K$p.json"; done
python3 "$tmp/an.py" "$tmp" particles

# 3. the limit at K_eps, the reference, the simulations (seeds: each run under ~2 min, the
#    standard error of the mean a few 1e-4 at the large widths)
limit 3 "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["K"])' "$tmp/keps.json")" 1 "$tmp/Keps.json"
limit 3 $((1 << 21)) 2 "$tmp/ref.json" 1
for ns in "64 6400" "128 6400" "256 3200" "512 4000" "1024 1400"; do
  set -- $ns
  simulate "$1" "$2" "$tmp/sim$1.json"
done
python3 "$tmp/an.py" "$tmp" compare
