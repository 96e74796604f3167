"""MC dropout vs a deep ensemble vs both, on the same data: quality and cost.

Run from the repository root (about 10 minutes on 2 CPU cores):

    .venv/bin/python benchmarks/compare_methods.py
    .venv/bin/python benchmarks/compare_methods.py --quick   # a smoke run, under a minute

Classification, Fashion-MNIST (needs the IDX files, see
`mcbridge.datasets.load_fashion_mnist`): the seed CNN (`mcbridge.build_cnn`)
trained on a random subset of the training set (`--train-size`, 20,000 of
60,000 by default, so that the whole script stays near 10 minutes on 2 cores),
evaluated on a random subset of the test set (`--test-size`):

* single model: one CNN, dropout off (the baseline);
* MC dropout: the same CNN, `--mc-samples` dropout samples per input;
* deep ensemble: `--k` CNNs from different initialisations and data orders,
  one deterministic prediction each (`mc_predict(ensemble, x)`);
* both: the ensemble with MC dropout inside each member, `mc-samples / k`
  samples per member, so the same number of forward passes as MC dropout.

`--dropout 0 0 0` trains the CNN without dropout (then only the single model
and the ensemble are compared): the setting where single networks become
over-confident, to test the explanation of the ensemble's calibration in
docs/METHODS.md.

The single model and the MC dropout model are the first ensemble member (a
CNN trained exactly as a standalone one would be), so "train s" for them is
that member's training time. Columns: accuracy and NLL (nats) of the mean
prediction, ECE (15 bins), AUROC of predictive entropy for flagging
misclassified inputs, training and prediction time (s), and three
diagnostics of *why* calibration moves: "conf-acc", the mean top probability
minus the accuracy (negative: under-confident); "T*", the temperature that
minimises the test NLL of the samples (`TemperatureScaler` fitted on the test
set itself, a diagnostic, not a method: below 1 means the prediction should
be sharper); "1-pass NLL", the mean NLL of the single passes (for the
ensemble: its members' mean NLL, which the ensemble's NLL is at most, by
Jensen).

Regression, scikit-learn's diabetes data (442 patients, 10 features, shipped
offline): an MLP (64-64, dropout 0.1) on standardised features and target,
split into train / validation / test. Each method's samples give a mean and
a spread; observation noise is not modelled by the networks (they are
trained with MSE), so a noise variance is added, estimated on the validation
set as `max(MSE - mean spread variance, 0)` for each method. The predictive
distribution is the mixture of `Normal(sample, noise)` over the samples:
Gaussian NLL uses its mean and variance; CRPS and the 90% interval use 1,000
draws from it. "cov90 spread" is the coverage of the samples alone, without
the noise. RMSE and CRPS are in the target's units (disease progression).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402


def vector_extensions() -> str:
    try:
        flags = next(
            line.split(":", 1)[1].split()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("flags")
        )
    except (OSError, StopIteration):
        return "unknown"
    wanted = [f for f in flags if f.startswith("avx512") or f in ("avx", "avx2", "fma")]
    return " ".join(wanted) or "none of avx/avx2/avx512"


def FitTimer():
    """A Keras callback that records the seconds of each `fit` call in `.seconds`."""
    import keras

    class _FitTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_train_begin(self, logs=None):
            self._t0 = time.perf_counter()

        def on_train_end(self, logs=None):
            self.seconds.append(time.perf_counter() - self._t0)

    return _FitTimer()


def classification(args) -> list[tuple]:
    import numpy as np

    import mcbridge
    from mcbridge import metrics

    (x_train, y_train), (x_test, y_test) = mcbridge.datasets.load_fashion_mnist()
    rng = np.random.default_rng(args.seed)
    tr = rng.choice(len(x_train), args.train_size, replace=False)
    te = rng.choice(len(x_test), args.test_size, replace=False)
    x_train, y_train, x_test, y_test = x_train[tr], y_train[tr], x_test[te], y_test[te]
    print(f"Fashion-MNIST: {len(x_train)} training images (random subset of 60,000), "
          f"{len(x_test)} test images, {args.epochs} epoch(s), batch 128, dropout {args.dropout}", flush=True)

    timer = FitTimer()
    t0 = time.perf_counter()
    rates = tuple(args.dropout)
    ens = mcbridge.train_ensemble(lambda: mcbridge.build_cnn(dropout=rates), x_train, y_train, k=args.k,
                                  epochs=args.epochs, batch_size=128, seed=args.seed, callbacks=[timer])
    ens_train = time.perf_counter() - t0
    single = ens[0]

    def evaluate(name, predict, train_s):
        t0 = time.perf_counter()
        result = predict()
        pred_s = time.perf_counter() - t0
        p = result.samples
        wrong = result.predicted_class != y_test
        gap = float(np.asarray(result.mean).max(axis=1).mean() - (1 - wrong.mean()))
        t_star = mcbridge.TemperatureScaler().fit(result, y_test).temperature_
        one_pass = float(np.mean([metrics.nll(p[:, :, j], y_test) for j in range(p.shape[2])]))
        return (name, p.shape[2], 1 - wrong.mean(), metrics.nll(p, y_test),
                metrics.expected_calibration_error(p, y_test),
                metrics.auroc(result.predictive_entropy(), wrong), train_s, pred_s, gap, t_star, one_pass)

    per = max(1, args.mc_samples // args.k)
    rows = [evaluate("single model", lambda: mcbridge.mc_predict(mcbridge.Ensemble([single]), x_test),
                     timer.seconds[0])]
    if any(rates):
        rows.append(evaluate(f"MC dropout ({args.mc_samples})",
                             lambda: mcbridge.mc_predict(single, x_test, n_samples=args.mc_samples, seed=1,
                                                         progress=False), timer.seconds[0]))
    rows.append(evaluate(f"deep ensemble (k={args.k})", lambda: mcbridge.mc_predict(ens, x_test), ens_train))
    if any(rates):
        rows.append(evaluate(f"both ({args.k} x {per})",
                             lambda: mcbridge.mc_predict(ens, x_test, n_samples=per, seed=1, progress=False),
                             ens_train))
    return rows


def regression(args) -> list[tuple]:
    import keras
    import numpy as np
    from sklearn.datasets import load_diabetes

    import mcbridge
    from mcbridge import metrics

    x, y = load_diabetes(return_X_y=True)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(x))
    test, val, train = order[:110], order[110:176], order[176:]
    mx, sx = x[train].mean(0), x[train].std(0)
    my, sy = y[train].mean(), y[train].std()
    xs = ((x - mx) / sx).astype(np.float32)
    ys = ((y - my) / sy).astype(np.float32)
    print(f"Diabetes: {len(train)} train, {len(val)} validation, {len(test)} test; "
          f"MLP 64-64 with dropout 0.1, {args.reg_epochs} epochs, batch 32", flush=True)

    def build():
        model = keras.Sequential([
            keras.Input((10,)),
            keras.layers.Dense(64, activation="relu"), mcbridge.MCDropout(0.1),
            keras.layers.Dense(64, activation="relu"), mcbridge.MCDropout(0.1),
            keras.layers.Dense(1),
        ])  # fmt: skip
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        return model

    timer = FitTimer()
    t0 = time.perf_counter()
    ens = mcbridge.train_ensemble(build, xs[train], ys[train], k=args.k, epochs=args.reg_epochs,
                                  batch_size=32, seed=args.seed, callbacks=[timer])
    ens_train = time.perf_counter() - t0
    single, single_train = ens[0], timer.seconds[0]

    def mc_dropout(xq, n):
        keras.utils.set_random_seed(1)
        with mcbridge.mc_dropout(single):
            draws = [keras.ops.convert_to_numpy(single(xq)) for _ in range(n)]
        return np.stack(draws, axis=2)  # (n, 1, samples)

    def both(xq, per):
        keras.utils.set_random_seed(1)
        draws = []
        for member in ens:
            with mcbridge.mc_dropout(member):
                draws += [keras.ops.convert_to_numpy(member(xq)) for _ in range(per)]
        return np.stack(draws, axis=2)

    per = max(1, args.mc_samples // args.k)
    methods = [
        (f"MC dropout ({args.mc_samples})", lambda xq: mc_dropout(xq, args.mc_samples), single_train),
        (f"deep ensemble (k={args.k})",
         lambda xq: mcbridge.mc_predict(ens, xq, task="regression").samples, ens_train),
        (f"both ({args.k} x {per})", lambda xq: both(xq, per), ens_train),
    ]
    draw_rng = np.random.default_rng(args.seed + 1)
    rows = []
    for name, predict, train_s in methods:
        t0 = time.perf_counter()
        s_test = predict(xs[test]) * sy + my  # back to the target's units
        pred_s = time.perf_counter() - t0
        s_val = predict(xs[val]) * sy + my
        y_val, y_test = y[val][:, None], y[test][:, None]
        noise = max(float(np.mean((s_val.mean(2) - y_val) ** 2) - np.mean(s_val.var(2))), 0.0)
        mean, var = s_test.mean(2), s_test.var(2) + noise
        pick = draw_rng.integers(0, s_test.shape[2], size=(len(test), 1, 1000))
        mixture = np.take_along_axis(s_test, pick, axis=2) + draw_rng.normal(0, np.sqrt(noise), pick.shape)
        rows.append((name, s_test.shape[2], metrics.rmse(mean, y_test), metrics.gaussian_nll(mean, var, y_test),
                     metrics.crps(mixture, y_test), metrics.interval_coverage(mixture, y_test, 0.9),
                     metrics.interval_coverage(s_test, y_test, 0.9), train_s, pred_s))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run (not for the record)")
    parser.add_argument("--train-size", type=int, default=20000)
    parser.add_argument("--test-size", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--reg-epochs", type=int, default=150)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--mc-samples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-regression", action="store_true", help="the classification table only")
    parser.add_argument("--dropout", type=float, nargs=3, default=[0.25, 0.25, 0.5],
                        help="the CNN's three dropout rates (all 0: no MC rows)")
    args = parser.parse_args(argv)
    if args.quick:
        args.train_size, args.test_size, args.epochs, args.reg_epochs, args.k, args.mc_samples = 500, 200, 1, 5, 2, 4

    start = time.perf_counter()
    print(_common.machine())
    print(f"CPU and vector extensions: {_common.cpu_extensions()} ({vector_extensions()})")
    print(f"Command: {' '.join(['benchmarks/compare_methods.py', *(argv if argv is not None else sys.argv[1:])])}\n")

    rows = classification(args)
    print()
    print(f"{'Fashion-MNIST':28}{'samples':>8}{'acc':>8}{'NLL':>8}{'ECE':>8}{'AUROC':>8}{'train s':>9}{'pred s':>8}"
          f"{'conf-acc':>9}{'T*':>7}{'1-pass NLL':>11}")
    for name, s, acc, nll, ece, auc, tr, pr, gap, t_star, one_pass in rows:
        print(f"{name:28}{s:8d}{acc:8.4f}{nll:8.4f}{ece:8.4f}{auc:8.4f}{tr:9.1f}{pr:8.1f}"
              f"{gap:+9.4f}{t_star:7.3f}{one_pass:11.4f}")
    print(flush=True)
    if args.no_regression:
        print(f"Total: {time.perf_counter() - start:.0f} s")
        return

    rows = regression(args)
    print()
    print(f"{'Diabetes':28}{'samples':>8}{'RMSE':>8}{'NLL':>8}{'CRPS':>8}{'cov90':>8}"
          f"{'cov90 spread':>14}{'train s':>9}{'pred s':>8}")
    for name, s, r, nll, c, cov, cov_s, tr, pr in rows:
        print(f"{name:28}{s:8d}{r:8.2f}{nll:8.3f}{c:8.2f}{cov:8.3f}{cov_s:14.3f}{tr:9.1f}{pr:8.2f}")
    print(f"\nTotal: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
