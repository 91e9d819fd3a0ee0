#!/usr/bin/env python3
"""PyTorch float64 training of bench/programs/mlp2_tanh_b4.tp at finite width, many seeds at once.

The baseline of bench/mc_vs_torch.sh: the finite network that `tpc simulate` trains, with the
semantics of LANGUAGE.md ("Semantics of a step") under an abc-parametrization (default: tpc's
`mup`), written as a PyTorch user would, S independent initialisations stacked along a leading
seed dimension (W1 [S, n, 3], W2 [S, n, n], W3 [S, n]) so that every operation is one batched
kernel (bmm, baddbmm_, elementwise) over the seeds:

    params   P = n^(-a) w,  w_ij ~ N(0, v n^(-2b))       v = 1/3 (W1), 1 (W2, W3)
    forward  h1 = W1 x, z1 = tanh h1, h2 = W2 z1, z2 = tanh h2, f = W3 z2, loss = (f - y)^2 / 2
    backward df = f - y, dh2 = (W3^T df) tanh'(h2), dh1 = (W2^T dh2) tanh'(h1), tanh' = 1 - tanh^2
    update   P <- P - lr n^(-c - 2a) * mean over the batch of {outer(df, z2), outer(dh2, z1), outer(dh1, x)}

every step on the full batch (the data file's 4 training examples; LANGUAGE.md: B defaults to
all of them), all updates from the values before any of them. Row t of the result uses the
params after t updates (t = 0 .. T), as `tpc simulate` reports. The seeds are trained in chunks
of at most 2^24 entries of W2 (128 MB); each chunk draws its params from its own
torch.Generator seeded with --seed plus the chunk's first seed index (not tpc's random streams:
agreement with `tpc simulate` is statistical).

Threads: torch.set_num_threads(--threads), and --threads chunks are trained at once by as many
Python threads (torch releases the GIL inside its kernels). The chunk-level parallelism is what
uses the cores: ~90% of the time is in bmm/baddbmm_ (W2 z1, W2^T dh2, W2's rank-B update), which
this PyTorch build (Debian's python3-torch 1.13, netlib reference BLAS, itself single-threaded)
runs as one BLAS call per seed in a serial loop.

Usage:
    python3 bench/mlp2_tanh_torch.py --data D --steps T --width N --seeds S
        [--seed S0] [--threads 2] [--lr 0.5] [--all-steps] [--repeats R]
        [--max-seconds X --time-budget Y] [--check-against SIM.json]

Prints one JSON line: {"width", "seeds", "steps", "seconds", "measured_seconds", "seeds_timed",
"scaled", "runs", "threads", "torch", "exponents", "steps_report": [{"t", "outputs": {"f": [..]},
"sd": {"f": [..]}, "stderr": {"f": [..]}, "kurtosis": {"f": [..]}, "loss", "loss_stderr"}]}
(sd: over the seeds; stderr = sd/sqrt(S); one entry per eval input), with only row t = T unless
--all-steps (which also evaluates the eval inputs and the batch loss at every step; without it
only the eval outputs after T updates are computed, the least work for them, and no loss).
`seconds` is the training time (time.perf_counter around initialisation, training and the
final evaluation; not the import of torch), best of --repeats runs of all S seeds (no further
run once one takes more than 30 s).
--max-seconds X: if, after a run of at least --time-budget Y seconds, all S seeds are projected
to take more than X seconds, stop there: `seeds_timed` < S seeds were trained, `scaled` is true
and `seconds` is their time times S / seeds_timed (seeds are independent; statistics are over
the seeds trained).
--check-against SIM.json (a `tpc simulate --json` report of the same program, data, steps and
width; needs --all-steps): compares every output and loss of every step, in combined standard
errors z = (PyTorch - simulate)/sqrt(se_1^2 + se_2^2), prints (to stderr) the rows t = 0, 1, T,
the largest |z| and the seed spreads, and exits 1 if any |z| >= 4 or if the report's
parametrization is not the one used here.
"""
import argparse, json, math, os, sys, time
from concurrent.futures import ThreadPoolExecutor

try:
    import torch
except ImportError:  # e.g. a pyenv python3 shadowing Debian's python3-torch
    if os.path.exists("/usr/bin/python3") and sys.executable != "/usr/bin/python3":
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

F64 = torch.float64
# tpc's `mup` (LANGUAGE.md, "Parametrizations"): input layer (a, b) = (-1/2, 1/2), hidden
# (0, 1/2), readout (1/2, 1/2), c = 0. Checked against the report in --check-against.
EXPONENTS = {"W1": (-0.5, 0.5, 0.0), "W2": (0.0, 0.5, 0.0), "W3": (0.5, 0.5, 0.0)}
VARIANCE = {"W1": 1.0 / 3.0, "W2": 1.0, "W3": 1.0}   # declared in mlp2_tanh_b4.tp
LR = 0.5                                              # hyper lr of mlp2_tanh_b4.tp
CHUNK_ENTRIES = 1 << 24                               # W2 entries per chunk of seeds


def scales(n, lr):
    """Initial standard deviation n^(-a) sqrt(v) n^(-b) and update factor lr n^(-c-2a) per param."""
    init = {p: n ** (-a) * math.sqrt(VARIANCE[p]) * n ** (-b) for p, (a, b, c) in EXPONENTS.items()}
    upd = {p: lr * n ** (-c - 2 * a) for p, (a, b, c) in EXPONENTS.items()}
    return init, upd


def train_chunk(n, S, seed, steps, lr, X, Y, Xe, all_steps):
    """Trains S seeds at width n from seed `seed`; returns f [rows, S, E] on the eval inputs and
    the batch loss [rows, S] (rows t = 0..T with all_steps; else row T only and no loss: None)."""
    init, upd = scales(n, lr)
    g = torch.Generator().manual_seed(seed)
    W1 = torch.randn(S, n, X.shape[1], generator=g, dtype=F64).mul_(init["W1"])
    W2 = torch.randn(S, n, n, generator=g, dtype=F64).mul_(init["W2"])
    W3 = torch.randn(S, n, generator=g, dtype=F64).mul_(init["W3"])
    B, E = X.shape[0], Xe.shape[0]
    XtE = torch.cat([X, Xe]).T.contiguous()          # [3, B + E]: train and eval columns
    Xt = X.T.contiguous()                            # [3, B]
    XS = X.expand(S, B, X.shape[1])                  # [S, B, 3] for W1's update
    fs, losses = [], []

    def forward(cols):
        h1 = torch.matmul(W1, cols)                  # [S, n, cols]
        z1 = torch.tanh(h1)
        h2 = torch.bmm(W2, z1)
        z2 = torch.tanh(h2)
        f = torch.bmm(W3.unsqueeze(1), z2).squeeze(1)  # [S, cols]
        return z1, z2, f

    for t in range(steps + 1):
        if t == steps and not all_steps:             # row T: the eval outputs only
            fs.append(forward(Xe.T.contiguous())[2])
            break
        z1, z2, f = forward(XtE if all_steps else Xt)
        df = f[:, :B] - Y                             # [S, B]
        if all_steps:
            fs.append(f[:, B:])
            losses.append(0.5 * (df * df).mean(1))
        if t == steps:
            break
        z1, z2 = z1[:, :, :B], z2[:, :, :B]
        dh2 = W3.unsqueeze(2) * df.unsqueeze(1) * (1 - z2 * z2)    # (W3^T df) tanh'(h2)
        dh1 = torch.bmm(W2.transpose(1, 2), dh2) * (1 - z1 * z1)   # (W2^T dh2) tanh'(h1)
        # all three updates from the values above (W2^T dh2 is computed before W2 moves)
        W3.sub_(torch.bmm(df.unsqueeze(1), z2.transpose(1, 2)).squeeze(1), alpha=upd["W3"] / B)
        W2.baddbmm_(dh2, z1.transpose(1, 2), alpha=-upd["W2"] / B)
        W1.baddbmm_(dh1, XS, alpha=-upd["W1"] / B)
    return torch.stack(fs), (torch.stack(losses) if all_steps else None)


def run(a, X, Y, Xe, max_seconds=None, budget=None):
    """All S seeds in chunks, --threads chunks at a time; returns (f [rows, S', E], loss [rows, S']
    or None, seconds, S'). Each chunk's seeds depend only on its first seed index, so the numbers
    do not depend on the number of workers."""
    chunk = max(1, min(CHUNK_ENTRIES // (a.width * a.width), -(-a.seeds // a.threads)))
    starts = list(range(0, a.seeds, chunk))
    fs, ls, done = [], [], 0
    t0 = time.perf_counter()
    with ThreadPoolExecutor(a.threads) as ex:
        for w in range(0, len(starts), a.threads):
            wave = [(s, min(chunk, a.seeds - s)) for s in starts[w:w + a.threads]]
            for f, l in ex.map(lambda c: train_chunk(a.width, c[1], a.seed + c[0], a.steps, a.lr, X, Y, Xe,
                                                     a.all_steps), wave):
                fs.append(f); ls.append(l)
            done += sum(c[1] for c in wave)
            el = time.perf_counter() - t0
            if max_seconds is not None and done < a.seeds and el >= budget and el * a.seeds / done > max_seconds:
                break
    el = time.perf_counter() - t0
    return torch.cat(fs, 1), (torch.cat(ls, 1) if a.all_steps else None), el, done


def num(x):
    """A JSON number, or the strings tpc uses for non-finite values (never a bare NaN)."""
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def summarise(f, loss, steps, all_steps):
    S = f.shape[1]
    rows = []
    for r in range(f.shape[0]):
        fr = f[r]
        sd = fr.std(0, unbiased=True) if S > 1 else torch.zeros(fr.shape[1], dtype=F64)
        dev = fr - fr.mean(0)
        kurt = (dev ** 4).mean(0) / (dev ** 2).mean(0) ** 2      # m4 / m2^2 (3 for a Gaussian)
        row = {"t": r if all_steps else steps,
               "outputs": {"f": [num(v) for v in fr.mean(0)]},
               "sd": {"f": [num(v) for v in sd]},
               "stderr": {"f": [num(v) for v in sd / math.sqrt(S)]},
               "kurtosis": {"f": [num(v) for v in kurt]}}
        if loss is not None:
            lr_ = loss[r]
            row["loss"] = num(lr_.mean())
            row["loss_stderr"] = num(lr_.std(unbiased=True) / math.sqrt(S) if S > 1 else 0.0)
        rows.append(row)
    return rows


def check(rep, sim_path):
    """Every output and loss of every step against a `tpc simulate` report; True if all agree."""
    sim = json.load(open(sim_path))
    par = sim["parametrization"]["params"]
    frac = lambda s: float(s.split("/")[0]) / float(s.split("/")[1]) if "/" in s else float(s)
    for p, (a, b, c) in EXPONENTS.items():
        got = tuple(frac(par[p][k]) for k in ("a", "b", "c"))
        if got != (a, b, c):
            print(f"check: {sim_path} has {p} (a, b, c) = {got}, this script {(a, b, c)}", file=sys.stderr)
            return False
    s = sim["simulation"]
    assert s["width"] == rep["width"], "the simulation is at another width"
    print(f"check: PyTorch ({rep['seeds']} seeds) vs tpc simulate ({s['seeds']} seeds) at n = {rep['width']}, "
          f"z = difference / combined standard error", file=sys.stderr)
    print(f"  {'t':>3} {'quantity':>9} {'PyTorch':>22} {'tpc simulate':>22} {'z':>6}", file=sys.stderr)
    zs = []
    for mine, theirs in zip(rep["steps_report"], s["steps"]):
        assert mine["t"] == theirs["t"]
        pairs = [(f"f[{e}]", mine["outputs"]["f"][e], mine["stderr"]["f"][e],
                  theirs["outputs"]["f"][e], theirs["stderr"]["f"][e]) for e in range(len(mine["outputs"]["f"]))]
        if "loss" in mine:
            pairs.append(("loss", mine["loss"], mine["loss_stderr"], theirs["loss"], theirs["loss_stderr"]))
        for name, x, sx, y, sy in pairs:
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (x, sx, y, sy)):
                print(f"  {mine['t']:>3} {name:>9}: not finite ({x}, {y})", file=sys.stderr)
                return False
            z = (x - y) / math.hypot(sx, sy) if (sx or sy) else (0.0 if x == y else math.inf)
            zs.append(z)
            if mine["t"] in (0, 1, len(s["steps"]) - 1):   # the table: first, second and last rows
                print(f"  {mine['t']:>3} {name:>9} {x:>12.6f} ± {sx:.1e} {y:>12.6f} ± {sy:.1e} {z:>+6.2f}", file=sys.stderr)
    # the seed spread too (informative, not a criterion): a sample standard deviation over S seeds
    # has relative error sqrt((kurtosis - 1)/(4 S)) (delta method; 1/sqrt(2 S) for a Gaussian), so
    # the ratio of the two is 1 within about sqrt((kurtosis - 1)/4 (1/S1 + 1/S2)), with the
    # kurtosis measured on the PyTorch seeds
    last, slast = rep["steps_report"][-1], s["steps"][-1]
    if all(isinstance(v, (int, float)) for v in last["sd"]["f"] + last["kurtosis"]["f"] + slast["variance"]["f"]):
        ratios = [x / math.sqrt(v) if v > 0 else math.inf for x, v in zip(last["sd"]["f"], slast["variance"]["f"])]
        tols = [math.sqrt((k - 1) / 4 * (1 / rep["seeds"] + 1 / s["seeds"])) for k in last["kurtosis"]["f"]]
        print(f"  seed standard deviation of f at t = {last['t']}, PyTorch / tpc simulate: "
              + ", ".join(f"{r:.3f} ± {tl:.3f}" for r, tl in zip(ratios, tols))
              + " (kurtosis " + ", ".join(f"{k:.1f}" for k in last["kurtosis"]["f"]) + ")", file=sys.stderr)
    worst = max(abs(z) for z in zs)
    within = [sum(abs(z) <= k for z in zs) / len(zs) for k in (1, 2)]
    # Pass: every |z| < 4. The runs are independent (different random streams), so each z is
    # ~N(0, 1) if the semantics agree; |z| >= 4 has probability 6e-5 per number, under 1% over the
    # ~60 numbers compared even if they were independent (they are correlated across steps), while
    # a wrong exponent, variance or learning rate moves the outputs by many standard errors.
    ok = worst < 4
    print(f"  all {len(zs)} numbers (t = 0..{len(s['steps']) - 1}): max |z| = {worst:.2f}, "
          f"{100 * within[0]:.0f}% within 1 combined stderr, {100 * within[1]:.0f}% within 2 "
          f"(expected ~68%, ~95%) -> {'agree' if ok else 'DISAGREE'} (criterion: all |z| < 4)", file=sys.stderr)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--seeds", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=LR)
    ap.add_argument("--all-steps", action="store_true")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--max-seconds", type=float)
    ap.add_argument("--time-budget", type=float, default=60.0)
    ap.add_argument("--check-against")
    a = ap.parse_args()
    if a.check_against and not a.all_steps:
        ap.error("--check-against compares every step: it needs --all-steps")
    torch.set_num_threads(a.threads)
    d = json.load(open(a.data))
    X = torch.tensor(d["train"]["x"], dtype=F64)
    Y = torch.tensor(d["train"]["y"], dtype=F64)
    Xe = torch.tensor(d["eval"]["x"], dtype=F64) if "eval" in d else X.clone()
    best, runs = None, 0
    for _ in range(a.repeats):
        runs += 1
        f, loss, el, done = run(a, X, Y, Xe, a.max_seconds, a.time_budget)
        if best is None or el * a.seeds / done < best[2] * a.seeds / best[3]:
            best = (f, loss, el, done)
        if done < a.seeds or el > 30:   # scaled or long: one run is enough (and cheaper)
            break
    f, loss, el, done = best
    rep = {"width": a.width, "seeds": a.seeds, "seeds_timed": done, "scaled": done < a.seeds,
           "measured_seconds": el, "seconds": el * a.seeds / done, "steps": a.steps,
           "runs": runs, "threads": a.threads, "torch": torch.__version__,
           "exponents": {p: list(v) for p, v in EXPONENTS.items()},
           "steps_report": summarise(f, loss, a.steps, a.all_steps)}
    print(json.dumps(rep))
    if a.check_against and not check(rep, a.check_against):
        sys.exit(1)


if __name__ == "__main__":
    main()
