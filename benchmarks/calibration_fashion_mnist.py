"""Temperature scaling and conformal prediction sets on Fashion-MNIST (seed CNN).

Run once from the repository root (the figures in docs/CALIBRATION.md):

    .venv/bin/python benchmarks/calibration_fashion_mnist.py

Recipe: train the seed CNN (`mcbridge.build_cnn()` defaults) on the first
`--train` training images for `--epochs` epochs, then MC-predict the 10,000
test images with `--samples` samples. The test set is split at random in two
halves, `--splits` times: calibration (temperature and conformal threshold)
and evaluation. Reported (means over the splits):

1. NLL and ECE (15 bins) of the MC mean before and after temperature scaling.
2. For LAC, APS and RAPS (lam 0.01, k_reg 1; deterministic and randomised)
   and each MC score (`mean`: score of the MC mean; `average`: each sample's
   score averaged over the samples): coverage and mean set size at alpha
   0.1 and 0.05, on the raw and on the temperature-scaled samples.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  (sets sys.path and TF log level)

import numpy as np  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=10000, help="training images used (the first ones)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--samples", type=int, default=30, help="MC samples per test image")
    ap.add_argument("--splits", type=int, default=20, help="random calibration/evaluation splits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    import keras

    import mcbridge
    from mcbridge import metrics
    from mcbridge.calibration import TemperatureScaler
    from mcbridge.conformal import ConformalClassifier, coverage, set_size

    print(_common.machine())
    t0 = time.perf_counter()
    (x_tr, y_tr), (x_te, y_te) = mcbridge.datasets.load_fashion_mnist()
    keras.utils.set_random_seed(args.seed)
    model = mcbridge.build_cnn(seed=args.seed)
    model.fit(x_tr[: args.train], y_tr[: args.train], epochs=args.epochs, batch_size=128, verbose=0)
    t_train = time.perf_counter() - t0
    res = mcbridge.mc_predict(model, x_te, n_samples=args.samples, batch_size=128, seed=args.seed)
    t_pred = time.perf_counter() - t0 - t_train
    y_te = y_te.astype(np.int64)
    acc = float((res.predicted_class == y_te).mean())
    print(f"train {args.train} images x {args.epochs} epochs: {t_train:.0f} s; "
          f"MC predict {len(y_te)} x {args.samples} samples: {t_pred:.0f} s; "
          f"test accuracy of the MC mean {acc:.4f}")  # fmt: skip

    rng = np.random.default_rng(args.seed)
    n = len(y_te)
    rows = {}
    temps, before, after = [], {"nll": [], "ece": []}, {"nll": [], "ece": []}

    def add(key, value):
        rows.setdefault(key, []).append(value)

    for split in range(args.splits):
        perm = rng.permutation(n)
        cal, ev = perm[: n // 2], perm[n // 2 :]
        r_cal = mcbridge.MCResult(res.samples[cal])
        r_ev = mcbridge.MCResult(res.samples[ev])
        ts = TemperatureScaler().fit(r_cal, y_te[cal])
        temps.append(ts.temperature_)
        c_cal, c_ev = ts.transform(r_cal), ts.transform(r_ev)
        for d, r in ((before, r_ev), (after, c_ev)):
            d["nll"].append(metrics.nll(r, y_te[ev]))
            d["ece"].append(metrics.expected_calibration_error(r, y_te[ev]))
        for probs, (pc, pe) in (("raw", (r_cal, r_ev)), ("scaled", (c_cal, c_ev))):
            for alpha in (0.1, 0.05):
                for method in ("lac", "aps", "raps"):
                    for randomized in ((False,) if method == "lac" else (False, True)):
                        for mc in ("mean", "average"):
                            if method == "lac" and mc == "average":
                                continue  # identical to "mean" (LAC is linear in p)
                            cp = ConformalClassifier(method, alpha, randomized=randomized,
                                                     seed=split, mc_score=mc)  # fmt: skip
                            sets = cp.fit(pc, y_te[cal]).predict_sets(pe)
                            variant = "randomised" if randomized else "deterministic"
                            key = (probs, alpha, method, variant, mc)
                            add(key, (coverage(sets, y_te[ev]), float(set_size(sets).mean())))

    total = time.perf_counter() - t0
    print(f"\nTemperature scaling ({args.splits} random halves; fit on one, measured on the other):")
    print(f"  temperature {np.mean(temps):.4f} (min {np.min(temps):.4f}, max {np.max(temps):.4f})")
    print(f"  NLL  before {np.mean(before['nll']):.4f}  after {np.mean(after['nll']):.4f}")
    print(f"  ECE  before {np.mean(before['ece']):.4f}  after {np.mean(after['ece']):.4f}")
    print("\nConformal sets (means over the splits; coverage / mean set size):")
    print(f"  {'probs':7s}{'alpha':>6s}  {'method':6s}{'variant':15s}{'mc_score':9s}{'coverage':>9s}{'size':>8s}")
    table = []
    for key, vals in rows.items():
        cov, size = np.mean(vals, axis=0)
        probs, alpha, method, variant, mc = key
        print(f"  {probs:7s}{alpha:6.2f}  {method:6s}{variant:15s}{mc:9s}{cov:9.4f}{size:8.3f}")
        table.append(dict(probs=probs, alpha=alpha, method=method, variant=variant,
                          mc_score=mc, coverage=float(cov), mean_set_size=float(size)))  # fmt: skip
    print(f"\ntotal {total:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(dict(
            machine=_common.machine(), args={k: str(v) for k, v in vars(args).items()},
            accuracy=acc, temperature=temps, nll_before=before["nll"], nll_after=after["nll"],
            ece_before=before["ece"], ece_after=after["ece"], conformal=table), indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
