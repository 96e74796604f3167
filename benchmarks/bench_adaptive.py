"""Adaptive sampling (`tolerance=`) against a fixed `n_samples`, at the same agreement with a 200-sample run.

The seed CNN trained on Fashion-MNIST (`--epochs`, cached in `--out`) predicts
the 10,000 test images. The reference is a 200-sample `mc_predict` (seed 0,
cached in `--out`). Every candidate runs with `--seed` (default 0: the
reference's, so a candidate's samples are the first ones of the reference's,
as when a user asks how many of the 200 samples were needed; another seed
scores it against an independent run) and is scored by its agreement with the
reference: the share of inputs with the same predicted
class (goal >= 99.5%) and the Spearman correlation of the mutual information
(goal >= 0.98). Printed side by side: fixed `n_samples` and adaptive runs
(`n_samples=200`, `min_samples=10`, a list of tolerances and a list of class
margins), each with its forward samples (n x samples, or the sum of `n_used`)
and wall time, then the cheapest of each kind that meets both goals, and the
cheapest of each adaptive kind at the class goal alone, with the ratios (goal:
at least 3x fewer samples and 2x less time). `--picture` draws the per-input sample count
against the reference's mutual information.

Run: .venv/bin/python benchmarks/bench_adaptive.py [--n 10000] [--picture adaptive.png]
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import mcbridge  # noqa: E402
from _common import cpu_extensions, machine  # noqa: E402
from mcbridge.datasets import load_fashion_mnist  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--n", type=int, default=10_000, help="test images")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--out", default="runs/bench_adaptive", help="folder for the trained model")
parser.add_argument("--fixed", default="20,40,60,80,100,120,160", help="fixed n_samples to try")
parser.add_argument("--tolerances", default="0.02,0.01,0.007,0.005,0.003,0.002", help="tolerances to try")
parser.add_argument("--seed", type=int, default=0, help="the candidates' seed (the reference's is 0)")
parser.add_argument("--picture", default=None)
parser.add_argument("--mi-precision", action="store_true",
                    help="instead: by decile of the reference's mutual information, the spread of MI estimated from "
                         "20 samples (10 disjoint blocks of the 200), absolute and relative to the MI")
parser.add_argument("--class-margins", default="1.5,2,3",
                    help="class_margin values to try (adaptive sampling that stops once the class is settled)")
args = parser.parse_args()


def ranks(a):
    r = np.empty(len(a))
    r[np.argsort(a, kind="stable")] = np.arange(len(a))
    return r


def spearman(a, b):
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


(x_train, y_train), (x_test, _) = load_fashion_mnist()
x_test = x_test[: args.n]
path = Path(args.out) / "model.keras"
if path.exists():
    model = mcbridge.load_model(path)
else:
    model = mcbridge.build_cnn(seed=0)
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=128, verbose=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)

print(f"# {machine()}")
print(f"# {cpu_extensions()}")
if args.mi_precision:
    # Why ranking every input by MI needs about the same samples for every input: an MI estimate's
    # relative error depends on the sample count, hardly on how large the MI is.
    ref = mcbridge.mc_predict(model, x_test, n_samples=200, seed=0, progress=False)
    mi = ref.mutual_information()
    blocks = np.stack([mcbridge.MCResult(ref.samples[..., 20 * b : 20 * (b + 1)]).mutual_information()
                       for b in range(10)], axis=1)  # (n, 10): MI from 20 samples, 10 disjoint blocks
    spread = blocks.std(axis=1, ddof=1)
    relative = spread / np.maximum(blocks.mean(axis=1), 1e-12)
    edges = np.quantile(mi, np.linspace(0, 1, 11))
    decile = np.clip(np.searchsorted(edges, mi, side="right") - 1, 0, 9)
    print(f"# {args.n} test images, 200 samples (seed 0); MI from 20 samples, 10 disjoint blocks per input")
    print(f"{'MI decile':>10s} {'median MI':>10s} {'sd of 20-sample MI':>19s} {'sd / MI':>8s}")
    for d in range(10):
        m = decile == d
        print(f"{d + 1:>10d} {np.median(mi[m]):10.2e} {np.median(spread[m]):19.2e} {np.median(relative[m]):8.2f}")
    sys.exit(0)
cached = Path(args.out) / f"reference_{args.n}.npz"
if cached.exists():
    with np.load(cached) as z:
        ref_class, ref_mi = z["predicted_class"], z["mutual_information"]
    print(f"# reference: {args.n} test images x 200 samples, read from {cached}")
else:
    t = time.perf_counter()
    ref = mcbridge.mc_predict(model, x_test, n_samples=200, seed=0, progress=False)
    print(f"# reference: {args.n} test images x 200 samples in {time.perf_counter() - t:.1f} s")
    ref_class, ref_mi = ref.predicted_class, ref.mutual_information()
    np.savez(cached, predicted_class=ref_class, mutual_information=ref_mi)
print(f"# candidates with seed {args.seed}")

rows = []
print(f"{'run':>22s} {'samples':>10s} {'time s':>8s} {'class agree':>12s} {'MI spearman':>12s}")
for kind, values in (("fixed", args.fixed), ("tolerance", args.tolerances), ("class margin", args.class_margins)):
    for v in filter(None, values.split(",")):
        if kind == "fixed":
            kw = {"n_samples": int(v)}
        else:
            kw = {"n_samples": 200, "min_samples": 10, ("tolerance" if kind == "tolerance" else "class_margin"): float(v)}
        t = time.perf_counter()
        r = mcbridge.mc_predict(model, x_test, seed=args.seed, progress=False, **kw)
        wall = time.perf_counter() - t
        samples = int(r.counts.sum())
        agree = float(np.mean(r.predicted_class == ref_class))
        rho = spearman(r.mutual_information(), ref_mi)
        rows.append((kind, v, samples, wall, agree, rho, r))
        print(f"{kind + ' ' + v:>22s} {samples:>10,d} {wall:8.2f} {agree:12.4f} {rho:12.4f}")

ok = [row for row in rows if row[4] >= 0.995 and row[5] >= 0.98]
best = {kind: min((row for row in ok if row[0] == kind), key=lambda row: row[2], default=None)
        for kind in ("fixed", "tolerance", "class margin")}
class_ok = [row for row in rows if row[4] >= 0.995]  # the class-agreement goal alone
for kind in ("tolerance", "class margin"):
    f = min((row for row in class_ok if row[0] == "fixed"), key=lambda row: row[2], default=None)
    a = min((row for row in class_ok if row[0] == kind), key=lambda row: row[2], default=None)
    if f and a:
        print(f"class agreement >= 99.5% alone: fixed n_samples={f[1]} ({f[2]:,} samples, {f[3]:.1f} s); "
              f"{kind} {a[1]} ({a[2]:,} samples, {a[3]:.1f} s): {f[2] / a[2]:.2f}x fewer samples, "
              f"{f[3] / a[3]:.2f}x less time")
if best["fixed"] and best["tolerance"]:
    f, a = best["fixed"], best["tolerance"]
    print(f"cheapest meeting both goals: fixed n_samples={f[1]} ({f[2]:,} samples, {f[3]:.1f} s); "
          f"tolerance={a[1]} ({a[2]:,} samples, {a[3]:.1f} s): {f[2] / a[2]:.2f}x fewer samples, "
          f"{f[3] / a[3]:.2f}x less time")
else:
    print("no candidate of each kind met both goals: widen --fixed / --tolerances")

adaptive = best["tolerance"] or next((row for row in rows if row[0] == "tolerance"), None)
if args.picture and adaptive:
    import matplotlib.figure

    r = adaptive[6]
    fig = matplotlib.figure.Figure(figsize=(9, 4), layout="constrained")
    ax = fig.subplots()
    counts = np.unique(r.n_used)
    ax.boxplot([ref_mi[r.n_used == c] for c in counts], positions=range(len(counts)), showfliers=False)
    ax.set_xticks(range(len(counts)), [f"{c}\n({np.sum(r.n_used == c)})" for c in counts], fontsize=8)
    ax.set(xlabel="samples an input got (inputs)", ylabel="mutual information (200-sample reference)",
           title=f"Adaptive sampling, tolerance {adaptive[1]}: where the samples go")
    fig.savefig(args.picture, dpi=100)
    print(f"Wrote {args.picture}")
