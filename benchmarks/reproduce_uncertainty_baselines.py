"""Reproduce uncertainty-baselines' LeNet-5 / Fashion-MNIST table with mcbridge's own tools.

The reference (google/uncertainty-baselines, `baselines/mnist/README.md`):
deterministic LeNet-5, test NLL 0.321, accuracy 91.0%; ensemble of 10, NLL
0.200, accuracy 93.2%, calibration error 0.010.

Protocol (their `baselines/mnist/deterministic.py`, as issue 24 states it):
LeNet-5 = Conv2D(6, 5, same, relu) - MaxPool 2 - Conv2D(16, 5, same, relu) -
MaxPool 2 - Conv2D(120, 5, same, relu) - Flatten - Dense(84, relu) - Dense(10);
Adam, learning rate 1e-3, batch 256, 25 epochs (about 5,000 steps) on the first
50,000 training images; evaluated on the 10,000 test images. Here the output
layer has a softmax (mcbridge works on probabilities; the loss is the same
cross-entropy), and an ensemble averages the members' *probabilities*.

Rows (every member is trained with `mcbridge.train_ensemble(..., k=1,
seed=...)`, one call per member, and saved as `.keras` as soon as it is done):

* deterministic: member 0 of the plain LeNet-5 (no dropout);
* ensemble of 10: plain members 0-9, one deterministic pass each;
* MC dropout: LeNet-5 with `MCDropout(0.5)` before each of the two dense
  layers (after Flatten and after Dense(84): Gal & Ghahramani's "lenet-ip"),
  `--samples` MC samples;
* MC dropout, improved: dropout after every hidden layer at rate 0.1,
  filter-wise in the convolutions (`MCSpatialDropout2D(0.1)` after each
  conv's activation, `MCDropout(0.1)` after Flatten and after Dense(84));
  uncertainty-baselines' CIFAR "improved" recipe (all layers, filter-wise);
* ensemble of MC-dropout members: 10 "improved" members, `--samples / 10`
  samples each (the same forward passes as one MC dropout row);
* each again after temperature scaling (`mcbridge.TemperatureScaler`, one
  temperature per row, fitted on the held-out last 10,000 training images).

Columns: NLL (nats), accuracy, ECE (15 equal-width bins), Brier (sum over
classes; uncertainty-baselines' `brier_score` is the mean over classes, a
tenth of it), misclassification AUROC of predictive entropy, and OOD AUROC of
predictive entropy against (a) scikit-learn's 1,797 digits (8x8, scaled to
20x20 and padded to 28x28 as MNIST is; needs scikit-learn) and (b) the
Fashion-MNIST test images shifted: contrast halved around 0.5, plus Gaussian
noise of standard deviation 0.2, clipped to [0, 1] (fixed seed); "conf-acc",
the mean top probability minus the accuracy (negative: under-confident); and
ECE with 10 bins, as uncertainty-baselines' `calibration()` computes the
published "calibration error".

Resumable: members are written to `--out` (default `runs/ub_repro/`, ignored
by git) as `members/<kind>_<j>.keras` the moment they finish, and their
predictions to `preds/`; a rerun with the same options loads what is there and
trains only what is missing (the same seed gives the same member). Members are
trained in the order the rows need them, so early rows appear early. Options
are recorded in `config.json`; a rerun with different protocol options into
the same folder is refused.

    .venv/bin/python benchmarks/reproduce_uncertainty_baselines.py --quick      # a few minutes
    nice -n 19 .venv/bin/python benchmarks/reproduce_uncertainty_baselines.py --threads 1 \
        > runs/ub_repro.log 2>&1 &                                               # hours on 2 cores

`--rows-only` prints the table from what is already in `--out` (training
nothing); `--rows improved-ensemble` (or any comma-separated list of
deterministic, mc, improved, ensemble, improved-ensemble) trains and prints
only those rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PUBLISHED = {"deterministic": (0.321, 0.910, None), "ensemble of 10": (0.200, 0.932, 0.010)}
KINDS = ("plain", "mc", "improved")
# Row groups in the order their members are trained; "improved-ensemble" is both rows of the 10 improved members.
ROWS = ("deterministic", "mc", "improved", "ensemble", "improved-ensemble")


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="10,000 images, 2 epochs, 3 members, 6 samples: a few minutes")
    p.add_argument("--out", default=None, help="folder for members, predictions and the table "
                   "(default runs/ub_repro, or runs/ub_repro_quick with --quick)")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow intra/inter-op threads (0: TF's choice)")
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--members", type=int, default=10, help="ensemble size")
    p.add_argument("--samples", type=int, default=30, help="MC samples per input (MC rows)")
    p.add_argument("--train-size", type=int, default=50000, help="first N training images are trained on")
    p.add_argument("--test-size", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rows-only", action="store_true", help="print the table from what is saved; train nothing")
    p.add_argument("--rows", default=",".join(ROWS),
                   help=f"comma-separated rows to train and print, of {','.join(ROWS)} (default: all)")
    p.add_argument("--curve", action="store_true",
                   help="train the deterministic member's recipe (plain member 0's seed) once more, printing test "
                        "NLL and accuracy after every epoch; saves nothing")
    args = p.parse_args(argv)
    args.rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    bad = sorted(set(args.rows) - set(ROWS))
    if bad or not args.rows:
        p.error(f"--rows takes a comma-separated list of {', '.join(ROWS)}; got {bad or 'nothing'}")
    if args.quick:
        args.epochs, args.members, args.samples = 2, 3, 6
        args.train_size, args.test_size = 10000, 2000
    if args.out is None:
        args.out = str(Path(__file__).resolve().parents[1] / "runs" / ("ub_repro_quick" if args.quick else "ub_repro"))
    return args


def set_threads(n: int) -> None:
    if n > 0:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTEROP_THREADS",
                    "TF_NUM_INTRAOP_THREADS"):
            os.environ[var] = str(n)
    import _common  # noqa: F401  (puts the repository on sys.path, quiets TF's C++ log)
    import tensorflow as tf

    if n > 0:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)


# ----------------------------------------------------------------------------- models


def build(kind: str):
    """A compiled LeNet-5 of one `kind`: "plain", "mc" (dense dropout 0.5), "improved"."""
    import keras

    import mcbridge

    L = keras.layers

    def conv_block(filters, pool):
        out = [L.Conv2D(filters, 5, padding="same", activation="relu")]
        if kind == "improved":
            out.append(mcbridge.MCSpatialDropout2D(0.1))
        if pool:
            out.append(L.MaxPooling2D(2))
        return out

    def drop():
        return {"plain": [], "mc": [mcbridge.MCDropout(0.5)], "improved": [mcbridge.MCDropout(0.1)]}[kind]

    layers = [keras.Input((28, 28, 1))]
    layers += conv_block(6, True) + conv_block(16, True) + conv_block(120, False)
    layers += [L.Flatten(), *drop(), L.Dense(84, activation="relu"), *drop(), L.Dense(10, activation="softmax")]
    model = keras.Sequential(layers, name=f"lenet5_{kind}")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def EpochLog(label: str):
    """A Keras callback printing one line per epoch (time, loss, accuracy): progress in the log."""
    import keras

    class _EpochLog(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            print(f"    {label} epoch {epoch + 1}: {time.perf_counter() - self._t0:.0f} s, loss "
                  f"{logs.get('loss', float('nan')):.4f}, accuracy {logs.get('accuracy', float('nan')):.4f}",
                  flush=True)

    return _EpochLog()


def curve(args, data, test) -> None:
    """Test NLL and accuracy after every epoch of plain member 0's recipe (the same seed, data and steps)."""
    import keras
    import numpy as np

    import mcbridge

    x_te, y_te = test

    class _Curve(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            p = self.model.predict(x_te, batch_size=1024, verbose=0).astype(np.float64)
            print(f"    epoch {epoch + 1:2d} ({(epoch + 1) * -(-len(data[0]) // 256)} steps): test NLL "
                  f"{mcbridge.metrics.nll(p, y_te):.4f}, accuracy {mcbridge.metrics.accuracy(p, y_te):.4f}, "
                  f"train loss {logs['loss']:.4f}", flush=True)

    mcbridge.train_ensemble(lambda: build("plain"), *data, k=1, epochs=args.epochs, batch_size=256,
                            seed=member_seed(args.seed, "plain", 0), progress=False, callbacks=[_Curve()])


def member_seed(base: int, kind: str, j: int) -> int:
    return base * 100_000 + (KINDS.index(kind) + 1) * 1000 + j


# ----------------------------------------------------------------------------- data


def load_data(args):
    import numpy as np

    import mcbridge

    (x_train, y_train), (x_test, y_test) = mcbridge.datasets.load_fashion_mnist()
    x_tr, y_tr = x_train[: args.train_size], y_train[: args.train_size]
    held = slice(50000, 60000) if not args.quick else slice(50000, 51000)
    x_val, y_val = x_train[held], y_train[held]
    x_te, y_te = x_test[: args.test_size], y_test[: args.test_size]
    rng = np.random.default_rng(12345)
    shifted = np.clip(0.5 * x_te + 0.25 + rng.normal(0, 0.2, x_te.shape), 0, 1).astype(np.float32)
    ood = {"shifted": shifted}
    try:
        from sklearn.datasets import load_digits

        import tensorflow as tf

        d = load_digits().images.astype(np.float32) / 16.0  # (1797, 8, 8) in [0, 1]
        small = tf.image.resize(d[..., None], (20, 20), method="bilinear").numpy()
        ood["digits"] = np.clip(np.pad(small, ((0, 0), (4, 4), (4, 4), (0, 0))), 0, 1).astype(np.float32)
    except ImportError:
        print("scikit-learn is not installed: no digits OOD column", flush=True)
    return (x_tr, y_tr), (x_val, y_val), (x_te, y_te), ood


# ----------------------------------------------------------------------------- members and predictions


def get_member(args, kind: str, j: int, data, log):
    """Load member `j` of `kind` from `--out`, or train and save it."""
    import mcbridge

    path = Path(args.out) / "members" / f"{kind}_{j}.keras"
    if path.exists():
        return mcbridge.load_model(path)
    if args.rows_only:
        return None
    (x_tr, y_tr) = data
    seed = member_seed(args.seed, kind, j)
    t0 = time.perf_counter()
    ens = mcbridge.train_ensemble(lambda: build(kind), x_tr, y_tr, k=1, epochs=args.epochs, batch_size=256,
                                  seed=seed, progress=False, callbacks=[EpochLog(f"{kind} {j}")])
    model = ens[0]
    secs = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)
    log[f"{kind}_{j}"] = {"train_s": round(secs, 1), "seed": seed}
    save_log(args, log)
    print(f"  trained {kind} member {j} (seed {seed}): {args.epochs} epochs in {secs:.0f} s", flush=True)
    return model


def predictions(args, kind: str, j: int, mode: str, sets: dict, data, log):
    """Cached samples `(n, 10, s)` of member `j` on every evaluation set.

    `mode`: "det" (one deterministic pass) or "mc<s>" (s MC samples, seeded).
    """
    import numpy as np

    import mcbridge

    path = Path(args.out) / "preds" / f"{kind}_{j}_{mode}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    model = get_member(args, kind, j, data, log)
    if model is None:
        return None
    out = {}
    t0 = time.perf_counter()
    for name, x in sets.items():
        if mode == "det":
            out[name] = mcbridge.mc_predict(mcbridge.Ensemble([model]), x, batch_size=512).samples
        else:
            n = int(mode[2:])
            out[name] = mcbridge.mc_predict(model, x, n_samples=n, batch_size=256,
                                            seed=member_seed(args.seed, kind, j) + 7, progress=False).samples
        out[name] = np.asarray(out[name], dtype=np.float32)
    log.setdefault("predict_s", {})[path.stem] = round(time.perf_counter() - t0, 1)
    save_log(args, log)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path.with_suffix(".tmp.npz"), **out)
    os.replace(path.with_suffix(".tmp.npz"), path)
    return out


def save_log(args, log):
    p = Path(args.out) / "times.json"
    p.write_text(json.dumps(log, indent=1))


# ----------------------------------------------------------------------------- evaluation


def row(name, per_member, y_val, y_te):
    """Metrics of the samples concatenated over members, raw and temperature-scaled."""
    import numpy as np

    import mcbridge
    from mcbridge import metrics

    cat = {k: np.concatenate([m[k] for m in per_member], axis=2) for k in per_member[0]}
    out = []
    for scaled in (False, True):
        res = {k: mcbridge.MCResult(v) for k, v in cat.items()}
        t = None
        if scaled:
            scaler = mcbridge.TemperatureScaler().fit(res["val"], y_val)
            t = scaler.temperature_
            res = {k: scaler.transform(v) for k, v in res.items()}
        ev = mcbridge.evaluate(res["test"], y_te, n_bins=15)
        cols = {"nll": ev["nll"], "acc": ev["accuracy"], "ece": ev["ece"], "brier": ev["brier"],
                "auroc_miss": ev["auroc_predictive_entropy"],
                "ece10": metrics.expected_calibration_error(res["test"], y_te, n_bins=10)}
        for ood in ("digits", "shifted"):
            cols[f"ood_{ood}"] = (metrics.ood_auroc(res["test"], res[ood]) if ood in res else float("nan"))
        p = res["test"].mean
        cols["conf_minus_acc"] = float(p.max(axis=1).mean() - ev["accuracy"])
        out.append((name + (f" + temp. T={t:.2f}" if scaled else ""), cat["test"].shape[2], cols))
    return out


def main(argv=None) -> None:
    args = parse(argv)
    set_threads(args.threads)
    import _common

    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    proto = {k: getattr(args, k) for k in ("quick", "epochs", "members", "samples", "train_size", "test_size", "seed")}
    cfg = out / "config.json"
    if cfg.exists() and json.loads(cfg.read_text()) != proto:
        sys.exit(f"{cfg} records other protocol options {cfg.read_text()}; use another --out.")
    cfg.write_text(json.dumps(proto, indent=1))
    log_path = out / "times.json"
    log = json.loads(log_path.read_text()) if log_path.exists() else {}

    print(_common.machine())
    print(f"CPU and vector extensions: {_common.cpu_extensions()}")
    print(f"Command: benchmarks/reproduce_uncertainty_baselines.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"Protocol: {'QUICK (not the protocol: small slices, 2 epochs)' if args.quick else 'full'}; "
          f"{args.train_size} training images, {args.epochs} epochs, batch 256, Adam 1e-3; "
          f"{args.members} members; {args.samples} MC samples; {args.test_size} test images; "
          f"output in {out}", flush=True)

    (x_tr, y_tr), (x_val, y_val), (x_te, y_te), ood = load_data(args)
    if args.curve:
        curve(args, (x_tr, y_tr), (x_te, y_te))
        return
    sets = {"val": x_val, "test": x_te, **ood}
    data = (x_tr, y_tr)
    k, s = args.members, args.samples
    per = max(1, s // k)

    def preds(kind, j, mode):
        return predictions(args, kind, j, mode, sets, data, log)

    # Rows in the order their members are trained: each row is printed as soon as it can be.
    plan = [
        ("deterministic", "deterministic", lambda: [preds("plain", 0, "det")]),
        ("mc", f"MC dropout (dense 0.5, {s} samples)", lambda: [preds("mc", 0, f"mc{s}")]),
        ("improved", f"MC dropout improved (all 0.1, {s} samples)", lambda: [preds("improved", 0, f"mc{s}")]),
        ("ensemble", f"ensemble of {k}", lambda: [preds("plain", j, "det") for j in range(k)]),
        ("improved-ensemble", f"ensemble of {k} improved-MC ({k}x{per})",
         lambda: [preds("improved", j, f"mc{per}") for j in range(k)]),
        ("improved-ensemble", f"ensemble of {k} improved, no MC",
         lambda: [preds("improved", j, "det") for j in range(k)]),
    ]
    plan = [(name, get) for group, name, get in plan if group in args.rows]
    rows = []
    header = (f"{'method':50}{'S':>4}{'NLL':>8}{'acc':>8}{'ECE':>8}{'Brier':>8}{'AUROC':>8}"
              f"{'OOD dig':>8}{'OOD shf':>8}{'conf-acc':>9}{'ECE10':>8}")
    for name, get in plan:
        members = get()
        if any(m is None for m in members):
            print(f"{name}: members missing (--rows-only)", flush=True)
            continue
        new = row(name, members, y_val, y_te)
        rows += new
        print(header)
        for r in new:
            print(fmt(r))
        if len(members) > 1:
            from mcbridge import metrics

            nll = [metrics.nll(m["test"], y_te) for m in members]
            acc = [metrics.accuracy(m["test"], y_te) for m in members]
            print(f"  members alone: NLL {min(nll):.4f} to {max(nll):.4f} (mean {sum(nll) / len(nll):.4f}), "
                  f"accuracy {min(acc):.4f} to {max(acc):.4f}")
        print(f"  ({time.perf_counter() - start:.0f} s so far)", flush=True)

    print(f"\nTable ({'QUICK' if args.quick else 'full protocol'}); {_common.cpu_extensions()}")
    print(header)
    for r in rows:
        print(fmt(r))
    print("published (uncertainty-baselines): deterministic NLL 0.321 acc 0.910; "
          "ensemble of 10 NLL 0.200 acc 0.932 calibration error 0.010")
    train_s = sum(v["train_s"] for kk, v in log.items() if kk != "predict_s")
    print(f"Training time recorded in {log_path}: {train_s:.0f} s over "
          f"{sum(1 for kk in log if kk != 'predict_s')} member(s); this run {time.perf_counter() - start:.0f} s")
    (out / "table.txt").write_text("\n".join([header, *(fmt(r) for r in rows)]) + "\n")


def fmt(r):
    name, s, c = r
    return (f"{name:50}{s:4d}{c['nll']:8.4f}{c['acc']:8.4f}{c['ece']:8.4f}{c['brier']:8.4f}{c['auroc_miss']:8.4f}"
            f"{c['ood_digits']:8.4f}{c['ood_shifted']:8.4f}{c['conf_minus_acc']:+9.4f}{c['ece10']:8.4f}")


if __name__ == "__main__":
    main()
