"""`mc_predict(..., precision="bfloat16")` against float32: accuracy and speed, side by side.

Trains the seed CNN (`mcbridge.build_cnn()`) on a Fashion-MNIST subset for a
couple of epochs, then on test images:

* **MC means agree within Monte Carlo error**: float32 with one seed against
  bfloat16 with another (independent masks), z-score of each (input, class)
  mean difference over its standard error; goal: fewer than 0.5% of cells
  beyond 4. Also the same seed in both (the same masks: only rounding differs).
* **Accuracy, NLL and ECE unchanged within noise**: each metric for float32
  and bfloat16 with two seeds each; the seed-to-seed spread of float32 is the
  noise yardstick.
* **Speed**: float32 and bfloat16 `mc_predict` in turn, `--repeats` rounds
  after an untimed warm-up, medians; goal bfloat16 >= 1.5x on a CPU with
  bfloat16 instructions. The load average is printed with it.

    python benchmarks/bench_bfloat16.py                   # about 3 minutes on 2 cores
    python benchmarks/bench_bfloat16.py --quick           # smaller, 1 round

Exits with status 1 if the agreement criterion fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  (repo on sys.path, quiet TensorFlow)

import numpy as np  # noqa: E402


def _z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    se = np.sqrt(a.var(-1, ddof=1) / a.shape[-1] + b.var(-1, ddof=1) / b.shape[-1])
    diff = np.abs(a.mean(-1) - b.mean(-1))
    # A cell with no spread in either run (both saturated) agrees iff the means do.
    return np.where(se > 0, diff / np.where(se > 0, se, 1), np.where(diff > 0, np.inf, 0))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5,000 training images, 1 epoch, 1,000 test, 1 round")
    ap.add_argument("--train-limit", type=int, default=None, help="training images (default 10,000)")
    ap.add_argument("--epochs", type=int, default=None, help="default 2")
    ap.add_argument("--n", type=int, default=None, help="test inputs (default 2,000)")
    ap.add_argument("--n-samples", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=None, help="timed rounds (default 5)")
    args = ap.parse_args(argv)
    train = args.train_limit or (5000 if args.quick else 10000)
    epochs = args.epochs or (1 if args.quick else 2)
    n = args.n or (1000 if args.quick else 2000)
    repeats = args.repeats or (1 if args.quick else 5)
    s = args.n_samples

    import keras

    import mcbridge
    from mcbridge import datasets, metrics
    from mcbridge._engine.plan import bfloat16_instructions

    print(f"machine: {_common.machine()}")
    print(f"CPU: {_common.cpu_extensions()}")
    print(f"bfloat16 instructions usable by oneDNN: {bfloat16_instructions() or 'none'}"
          f" (ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', 'unset')})")
    (x_tr, y_tr), (x_te, y_te) = datasets.load_fashion_mnist()
    x_tr, y_tr, x_te, y_te = x_tr[:train], y_tr[:train], x_te[:n], y_te[:n]
    keras.utils.set_random_seed(0)
    model = mcbridge.build_cnn(seed=0)
    t0 = time.perf_counter()
    model.fit(x_tr, y_tr, epochs=epochs, batch_size=128, verbose=0)
    print(f"trained the seed CNN on {train} Fashion-MNIST images, {epochs} epoch(s), "
          f"in {time.perf_counter() - t0:.0f} s; {n} test inputs x {s} samples\n")

    runs = {(p, seed): mcbridge.mc_predict(model, x_te, s, seed=seed, precision=p).samples
            for p in ("float32", "bfloat16") for seed in (1, 2)}  # fmt: skip

    # 1. MC means: independent masks (seeds 1 and 2), and the same masks (seed 1).
    z_ind = _z(runs["float32", 1], runs["bfloat16", 2])
    z_ref = _z(runs["float32", 1], runs["float32", 2])
    same = np.abs(runs["float32", 1] - runs["bfloat16", 1])
    frac = float(np.mean(z_ind > 4))
    ok = frac < 0.005
    print("MC means, (input, class) cells beyond 4 standard errors:")
    print(f"  float32 seed 1 vs bfloat16 seed 2: {frac:.3%} of {z_ind.size} (rms z {np.sqrt(np.mean(z_ind[np.isfinite(z_ind)]**2)):.2f})"
          f"  goal < 0.5%  {'PASS' if ok else 'FAIL'}")
    print(f"  float32 seed 1 vs float32 seed 2 (reference): {np.mean(z_ref > 4):.3%} "
          f"(rms z {np.sqrt(np.mean(z_ref[np.isfinite(z_ref)]**2)):.2f})")
    print(f"  same seed (same masks), per-sample |bfloat16 - float32|: max {same.max():.4f}, "
          f"mean {same.mean():.2e}; of the MC means: max "
          f"{np.abs(runs['float32', 1].mean(-1) - runs['bfloat16', 1].mean(-1)).max():.4f}\n")

    # 2. Metrics of the MC mean.
    table = [("accuracy", metrics.accuracy), ("NLL (nats)", metrics.negative_log_likelihood),
             ("ECE (15 bins)", metrics.expected_calibration_error)]  # fmt: skip
    print("| metric of the MC mean | float32 seed 1 | float32 seed 2 | bfloat16 seed 1 | bfloat16 seed 2 |")
    print("|---|---:|---:|---:|---:|")
    for label, f in table:
        vals = [f(runs[key].mean(-1), y_te) for key in
                (("float32", 1), ("float32", 2), ("bfloat16", 1), ("bfloat16", 2))]
        print(f"| {label} | " + " | ".join(f"{v:.4f}" for v in vals) + " |")

    # 3. Speed, interleaved.
    fns = {p: (lambda p=p: mcbridge.mc_predict(model, x_te, s, seed=1, precision=p)) for p in ("float32", "bfloat16")}
    times = {p: [] for p in fns}
    load0 = os.getloadavg()[0]
    for _ in range(repeats):
        for p, fn in fns.items():
            times[p].append(_common.timed(fn))
    med = {p: statistics.median(t) for p, t in times.items()}
    ratio = med["float32"] / med["bfloat16"]
    print(f"\nspeed, median of {repeats} interleaved round(s), load average {load0:.2f} -> {os.getloadavg()[0]:.2f}:")
    for p in fns:
        print(f"  mc_predict precision={p!r:11s} {_common.fmt_rate(n * s / med[p]):>8s} image-samples/s ({med[p]:.2f} s)")
    print(f"  bfloat16 / float32: {ratio:.2f}x  (goal >= 1.5x on a CPU with bfloat16 instructions)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
