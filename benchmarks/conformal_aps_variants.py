"""Which APS/RAPS variant should be the default? Coverage, set size and empty sets on Fashion-MNIST.

Run from the repository root (about 3 minutes on 2 cores the first time: it
trains the seed CNN once and caches the MC probabilities under `runs/`):

    .venv/bin/python benchmarks/conformal_aps_variants.py
    .venv/bin/python benchmarks/conformal_aps_variants.py --probs runs/ub_repro/preds/mc_0_mc30.npz  # LeNet-5 (part A)

Probabilities: `mcbridge.build_cnn(seed=0)` trained on the first 10,000
Fashion-MNIST training images for 10 epochs (batch 128), MC-predicted on the
10,000 test images (30 samples, seed 0); the MC mean is scored. Then
`--splits` random half/half calibration/test splits of the test set. For each
split and alpha, every variant below is calibrated on one half and measured on
the other; the table gives the mean over splits of coverage (with its standard
error), mean set size, the percentage of empty sets, and the coverage of the
confident inputs (MC-mean top probability >= 0.9).

Variants (scores with classes sorted by decreasing probability; `above` is
the probability of the classes ranked above `y`, `pen` the RAPS penalty
`lam * max(0, rank - k_reg)`, 0 for APS; `U` uniform on (0, 1), one per input,
fresh for calibration and for test):

* `det`: score `above + p[y] + pen` in calibration and test (mcbridge's old default);
* `det+top`: `det`, and the top class is always in the set;
* `rand`: score `above + U p[y] + pen` in calibration and test
  (Romano et al. 2020's randomised APS; Angelopoulos et al. 2021's RAPS);
* `rand+top`: `rand`, and the top class is always in the set;
* `det, top 0` / `rand, top 0`: the top class's score is 0 (in calibration
  and test), the others' as in `det` / `rand`: the top class is always in the
  set, and the threshold is calibrated knowing it (a valid conformal score);
* `rand-cal, last`: randomised calibration scores, and at test the classes
  are taken in order until the *deterministic* score reaches `qhat`, that
  class included ("include the last label", MAPIE's default): class `j` is in
  when the class ranked just above it has a deterministic score `< qhat`.
* `mcbridge default`: `ConformalClassifier(method)` with its defaults (seeded
  by the split), to check that it is the variant the table chose.

LAC (`1 - p[y]`) is listed for reference.

A second table checks the mean coverage of the deterministic variants more
precisely: their coverage needs only each input's true-label score, so
`--many-splits` (20,000) half/half splits cost seconds; split conformal
promises at least `ceil((n + 1)(1 - alpha)) / (n + 1)` on average over splits.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def probabilities(args):
    import numpy as np

    if args.probs:
        with np.load(args.probs) as z:
            samples = z["test"] if "test" in z.files else z["samples"]
            y = z["y"] if "y" in z.files else None
        if y is None:
            import mcbridge

            y = mcbridge.datasets.load_fashion_mnist()[1][1][: samples.shape[0]]
        return samples.mean(axis=2), y, f"samples from {args.probs}"
    cache = ROOT / "runs" / "conformal_fmnist_probs.npz"
    if cache.exists():
        with np.load(cache) as z:
            return z["mean"], z["y"], f"seed CNN (cached in {cache.relative_to(ROOT)})"
    import mcbridge

    (x_tr, y_tr), (x_te, y_te) = mcbridge.datasets.load_fashion_mnist()
    t0 = time.perf_counter()
    model = mcbridge.build_cnn(seed=0)
    model.fit(x_tr[:10000], y_tr[:10000], epochs=10, batch_size=128, verbose=0)
    res = mcbridge.mc_predict(model, x_te, n_samples=30, batch_size=128, seed=0, progress=False)
    mean = np.asarray(res.mean, dtype=np.float64)
    cache.parent.mkdir(exist_ok=True)
    np.savez(cache, mean=mean, y=y_te)
    return mean, y_te, f"seed CNN trained and predicted in {time.perf_counter() - t0:.0f} s"


def sorted_scores(p, lam, k_reg):
    """Deterministic scores in rank order, the probabilities in rank order, and the order."""
    import numpy as np

    order = np.argsort(-p, axis=1, kind="stable")
    sp = np.take_along_axis(p, order, axis=1)
    pen = lam * np.maximum(np.arange(1, p.shape[1] + 1) - k_reg, 0)[None, :]
    return np.cumsum(sp, axis=1) + pen, sp, order


def true_rank(order, y):
    import numpy as np

    return np.argmax(order == y[:, None], axis=1)


def variant_sets(p_cal, y_cal, p_te, alpha, lam, k_reg, variant, rng):
    """Boolean sets in rank order `(n, classes)` and the test inputs' rank of each class."""
    import numpy as np

    from mcbridge.conformal import conformal_quantile

    det_cal, sp_cal, order_cal = sorted_scores(p_cal, lam, k_reg)
    r = true_rank(order_cal, y_cal)
    rows = np.arange(len(y_cal))
    s_cal = det_cal[rows, r]
    if variant.startswith("rand"):
        s_cal = s_cal - rng.uniform(size=len(y_cal)) * sp_cal[rows, r]
    if variant.endswith("top 0"):
        s_cal = np.where(r == 0, 0.0, s_cal)
    qhat = conformal_quantile(s_cal, alpha)
    det_te, sp_te, order_te = sorted_scores(p_te, lam, k_reg)
    if variant in ("det", "det+top", "det, top 0"):
        sets = det_te <= qhat
    elif variant in ("rand", "rand+top", "rand, top 0"):
        sets = det_te - rng.uniform(size=(len(p_te), 1)) * sp_te <= qhat
    elif variant == "rand-cal, last":
        sets = np.ones_like(det_te, dtype=bool)
        sets[:, 1:] = det_te[:, :-1] < qhat
    else:
        raise ValueError(variant)
    if variant.endswith("+top") or variant.endswith("top 0"):
        sets[:, 0] = True
    return sets, order_te


def main(argv=None) -> None:
    import numpy as np

    from mcbridge.conformal import ConformalClassifier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", type=int, default=200)
    ap.add_argument("--alphas", type=float, nargs="+", default=[0.1, 0.05])
    ap.add_argument("--probs", default=None, help=".npz with 'test' (or 'samples') (n, classes, samples) [and 'y']")
    ap.add_argument("--many-splits", type=int, default=20000)
    ap.add_argument("--lam", type=float, default=0.01)
    ap.add_argument("--k-reg", type=int, default=1)
    args = ap.parse_args(argv)

    start = time.perf_counter()
    print(_common.machine())
    print(f"CPU and vector extensions: {_common.cpu_extensions()}")
    print(f"Command: benchmarks/conformal_aps_variants.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    p, y, source = probabilities(args)
    p = p / p.sum(axis=1, keepdims=True)
    conf = p.max(axis=1) >= 0.9
    print(f"Probabilities: {source}; {len(y)} inputs, accuracy {np.mean(p.argmax(1) == y):.4f}, "
          f"{conf.mean():.1%} with top probability >= 0.9; {args.splits} random half/half splits; "
          f"RAPS lam {args.lam}, k_reg {args.k_reg}\n", flush=True)

    variants = ["det", "det+top", "det, top 0", "rand", "rand+top", "rand, top 0", "rand-cal, last",
                "mcbridge default"]
    header = f"{'method':8}{'variant':18}{'alpha':>6}{'coverage':>10}{'se':>8}{'size':>7}{'empty %':>9}{'cov conf':>9}"
    print(header)
    for alpha in args.alphas:
        for method in ("lac", "aps", "raps"):
            lam = args.lam if method == "raps" else 0.0
            for variant in (["mcbridge default"] if method == "lac" else variants):
                covs, sizes, empty, cov_conf = [], [], [], []
                for i in range(args.splits):
                    rng = np.random.default_rng([i, 1])
                    perm = np.random.default_rng([i, 0]).permutation(len(y))
                    cal, te = perm[: len(y) // 2], perm[len(y) // 2 :]
                    if variant == "mcbridge default":
                        cp = ConformalClassifier(method, alpha, lam=args.lam, k_reg=args.k_reg, seed=i)
                        cp.fit(p[cal, :, None], y[cal])
                        sets = cp.predict_sets(p[te, :, None])
                        hit = sets[np.arange(len(te)), y[te]]
                    else:
                        sets, order = variant_sets(p[cal], y[cal], p[te], alpha, lam, args.k_reg, variant, rng)
                        hit = sets[np.arange(len(te)), true_rank(order, y[te])]
                    covs.append(hit.mean())
                    sizes.append(sets.sum(axis=1).mean())
                    empty.append((sets.sum(axis=1) == 0).mean())
                    cov_conf.append(hit[conf[te]].mean())
                name = "(sets)" if method == "lac" else variant
                print(f"{method.upper():8}{name:18}{alpha:6.2f}{np.mean(covs):10.4f}"
                      f"{np.std(covs) / np.sqrt(len(covs)):8.4f}{np.mean(sizes):7.3f}"
                      f"{100 * np.mean(empty):9.2f}{np.mean(cov_conf):9.4f}", flush=True)
        print()
    print(f"Deterministic variants, mean coverage over {args.many_splits} random half/half splits "
          f"(true-label scores only):")
    print(f"{'method':8}{'variant':18}{'alpha':>6}{'coverage':>10}{'se':>9}{'promised':>10}")
    for alpha in args.alphas:
        for method, variant in (("lac", "(sets)"), ("aps", "det"), ("aps", "det, top 0"), ("raps", "det"),
                                ("raps", "det, top 0")):
            cov, se, promised = many_splits(p, y, method, variant, alpha, args)
            print(f"{method.upper():8}{variant:18}{alpha:6.2f}{cov:10.5f}{se:9.5f}{promised:10.5f}")
    print(f"Total: {time.perf_counter() - start:.0f} s")


def many_splits(p, y, method, variant, alpha, args):
    import math

    import numpy as np

    rows = np.arange(len(y))
    if method == "lac":
        s = 1 - p[rows, y]
    else:
        det, _, order = sorted_scores(p, args.lam if method == "raps" else 0.0, args.k_reg)
        r = true_rank(order, y)
        s = det[rows, r]
        if variant == "det, top 0":
            s = np.where(r == 0, 0.0, s)
    n = len(y) // 2
    k = math.ceil((n + 1) * (1 - alpha) - 1e-9)
    rng = np.random.default_rng(2024)
    covs = np.empty(args.many_splits)
    for i in range(args.many_splits):
        perm = rng.permutation(len(y))
        qhat = np.partition(s[perm[:n]], k - 1)[k - 1]
        covs[i] = np.mean(s[perm[n:]] <= qhat)
    return covs.mean(), covs.std() / np.sqrt(len(covs)), k / (n + 1)


if __name__ == "__main__":
    main()
