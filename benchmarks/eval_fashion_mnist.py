"""Is MC dropout's uncertainty any good on real data? Fashion-MNIST, seed CNN.

Trains the seed CNN on the Fashion-MNIST training set, then on the 10,000
test images compares the deterministic network (dropout off) with the mean
of `--n-samples` MC dropout samples (accuracy, NLL, Brier, ECE), measures
how well each uncertainty score flags the wrong predictions (AUROC, AURC),
and how well it flags unfamiliar inputs: scikit-learn's 1,797 digits,
resized from 8x8 to 28x28 (bilinear), as out-of-distribution inputs
(AUROC, FPR at 95% TPR). Prints Markdown tables (docs/EVALUATION.md).

    python benchmarks/eval_fashion_mnist.py --epochs 3 --n-samples 30 --save /tmp/fm.npz

`--save` keeps the samples (`.npz`: samples, y, det, ood_samples) for
`mcbridge.plots`. Takes about 4 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import time

import _common  # noqa: F401  (repo on sys.path, quiet TensorFlow)
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-limit", type=int, default=None, help="first N training images")
    ap.add_argument("--n-samples", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", help="write the samples to this .npz")
    args = ap.parse_args()

    import keras

    import mcbridge
    from mcbridge import datasets, metrics
    from mcbridge.metrics import uncertainty

    print(_common.machine())
    (x_tr, y_tr), (x_te, y_te) = datasets.load_fashion_mnist()
    x_tr, y_tr = x_tr[: args.train_limit], y_tr[: args.train_limit]
    (d_tr, _), (d_te, _) = datasets.load_digits()
    digits = np.concatenate([d_tr, d_te])
    ood = np.asarray(keras.ops.image.resize(digits, (28, 28), interpolation="bilinear"), np.float32)
    ood = np.clip(ood, 0, 1)

    keras.utils.set_random_seed(args.seed)
    model = mcbridge.build_cnn(seed=args.seed)
    t0 = time.perf_counter()
    model.fit(x_tr, y_tr, epochs=args.epochs, batch_size=128, verbose=2)
    t_train = time.perf_counter() - t0

    det = model.predict(x_te, batch_size=512, verbose=0).astype(np.float64)
    t0 = time.perf_counter()
    res = mcbridge.mc_predict(model, x_te, n_samples=args.n_samples, seed=args.seed, progress=False)
    res_ood = mcbridge.mc_predict(model, ood, n_samples=args.n_samples, seed=args.seed + 1, progress=False)
    t_mc = time.perf_counter() - t0
    det_ood = model.predict(ood, batch_size=512, verbose=0).astype(np.float64)
    if args.save:
        np.savez_compressed(args.save, samples=res.samples, y=y_te, det=det, ood_samples=res_ood.samples,
                            x_test=x_te, ood_x=ood)  # fmt: skip

    print(f"\nTrained {args.epochs} epoch(s) on {len(x_tr)} images in {t_train:.0f} s; "
          f"{len(x_te)} test + {len(ood)} OOD inputs x {args.n_samples} MC samples in {t_mc:.0f} s.\n")
    print("| measure | deterministic | MC dropout mean |")
    print("|---|---:|---:|")
    rows = [
        ("accuracy", metrics.accuracy),
        ("NLL (nats)", metrics.negative_log_likelihood),
        ("Brier score", metrics.brier_score),
        ("ECE (15 bins)", metrics.expected_calibration_error),
        ("adaptive ECE", lambda p, y: metrics.expected_calibration_error(p, y, adaptive=True)),
        ("RMS calibration error", lambda p, y: metrics.expected_calibration_error(p, y, norm="l2")),
        ("MCE", lambda p, y: metrics.expected_calibration_error(p, y, norm="max")),
    ]
    for label, f in rows:
        print(f"| {label} | {f(det, y_te):.4f} | {f(res.mean, y_te):.4f} |")

    det3 = det[:, :, None]  # the deterministic network as one "sample"
    det3_ood = det_ood[:, :, None]
    print("\n| score | misclassification AUROC | AURC | AUGRC | OOD AUROC (digits) | FPR at 95% TPR |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in uncertainty.SCORES:
        print(f"| {name} | {metrics.misclassification_auroc(res, y_te, name):.4f} "
              f"| {metrics.aurc(res, y_te, name):.4f} | {metrics.augrc(res, y_te, name):.4f} "
              f"| {metrics.ood_auroc(res, res_ood, name):.4f} "
              f"| {metrics.fpr_at_95_tpr(res, res_ood, name):.4f} |")
    for name in ("predictive_entropy", "max_probability"):
        print(f"| {name} (deterministic) | {metrics.misclassification_auroc(det3, y_te, name):.4f} "
              f"| {metrics.aurc(det3, y_te, name):.4f} | {metrics.augrc(det3, y_te, name):.4f} "
              f"| {metrics.ood_auroc(det3, det3_ood, name):.4f} "
              f"| {metrics.fpr_at_95_tpr(det3, det3_ood, name):.4f} |")
    print("\nmcbridge.evaluate(res, y):")
    for k, v in mcbridge.evaluate(res, y_te).items():
        print(f"  {k}: {v:.4f}")


if __name__ == "__main__":
    main()
