"""The `mcbridge` command line: train, predict, evaluate, export, demo."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from mcbridge._checks import PRECISIONS

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

DESCRIPTION = """\
Monte Carlo dropout for Keras models: train a CNN, then predict every input
many times with dropout on and read the spread of the predictions as the
model's uncertainty.

Start with `mcbridge demo` (trains a small CNN and prints what MC dropout adds).
Datasets are read from local files only: `fashion-mnist` (Debian package
dataset-fashion-mnist, or --data-dir) and `digits` (ships with scikit-learn).
"""


class UserError(Exception):
    """A mistake in the command line or its files: printed as one line, exit status 1."""


def _interactive() -> bool:
    return sys.stdout.isatty()


def _load(dataset: str, data_dir: str | None):
    """Return (name, ((x_train, y_train), (x_test, y_test)), class names)."""
    from mcbridge import datasets

    if dataset == "auto":
        try:
            return _load("fashion-mnist", data_dir)
        except FileNotFoundError as err:
            print(f"note: {err}\nnote: falling back to the digits dataset.\n", file=sys.stderr)
            return _load("digits", None)
    if dataset == "fashion-mnist":
        return "Fashion-MNIST", datasets.load_fashion_mnist(data_dir), FASHION_CLASSES
    if dataset == "digits":
        return "digits (scikit-learn)", datasets.load_digits(), tuple(str(i) for i in range(10))
    raise UserError(f"unknown dataset {dataset!r}")


def _build_for(x: np.ndarray, n_classes: int, seed: int | None):
    from mcbridge import build_cnn

    small = min(x.shape[1:3]) < 16
    return build_cnn(
        input_shape=x.shape[1:],
        n_classes=n_classes,
        padding="same" if small else "valid",
        seed=seed,
    )


def _limit(arrays, limit: int | None):
    """The first `limit` rows of each array (all of them for None); None stays None."""
    return tuple(None if a is None else a[:limit] for a in arrays)


def _fit(model, x, y, epochs: int, batch_size: int) -> None:
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=1 if _interactive() else 2)


def cmd_train(args) -> int:
    _check_output(args.output, (".keras",))  # before training, not after
    name, ((x, y), _), _ = _load(args.dataset, args.data_dir)
    x, y = _limit((x, y), args.limit)
    if args.seed is not None:
        import keras

        keras.utils.set_random_seed(args.seed)
    model = _build_for(x, int(y.max()) + 1, args.seed)
    print(f"Training on {name}: {len(x)} images, {args.epochs} epoch(s).")
    _fit(model, x, y, args.epochs, args.batch_size)
    _save_atomic(args.output, model.save)
    print(f"Saved {args.output}")
    return 0


def _check_output(path: str, suffixes: tuple[str, ...]) -> Path:
    """The output path, checked before any work: right suffix, existing directory."""
    from mcbridge._checks import check_output_path

    try:
        return check_output_path(path, "--output", suffixes)
    except ValueError:
        wanted = " or ".join([", ".join(suffixes[:-1]), suffixes[-1]] if len(suffixes) > 1 else suffixes)
        raise UserError(f"--output must end in {wanted}, got {Path(path).name}.") from None


def _save_atomic(path: str, save, suffix: str | None = None) -> None:
    """Write through `save(tmp)` then rename, so no half-written file is left.

    An existing file at `path` stays as it was until the new one is complete
    (also on Ctrl-C).
    """
    from mcbridge._checks import temp_file_error

    path = _check_output(path, ())
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{suffix or path.suffix}")
    try:
        save(str(tmp))
        os.replace(tmp, path)
    except PermissionError as err:
        raise temp_file_error(path, err) from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _read_inputs(path: str, key: str | None, mmap: bool = False):
    path = Path(path)
    if not path.is_file():
        raise UserError(f"input file {path} does not exist.")
    try:
        return _read_array_file(path, key, mmap)
    except (OSError, ValueError, EOFError) as err:
        if isinstance(err, UserError):
            raise
        raise UserError(f"cannot read {path} as {path.suffix} ({str(err).splitlines()[0]}).") from None


def _read_array_file(path: Path, key: str | None, mmap: bool = False):
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None), None
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            names = list(z.keys())
            name = key or ("x" if "x" in names else names[0] if len(names) == 1 else None)
            if name is None or name not in names:
                raise UserError(f"{path} holds arrays {names}; name the inputs with --key.")
            return z[name], (z["y"] if "y" in names else None)
    raise UserError(f"--input must be a .npy or .npz file, got {path.name}.")


def cmd_predict(args) -> int:
    _check_output(args.output, (".npz", ".arrow", ".parquet"))
    if not Path(args.model).exists():  # (a folder: load_model says what it is and what to pass)
        raise UserError(f"model file {args.model} does not exist.")
    if args.spark:  # --input is a Parquet table (a file or Spark's folder of files)
        return _predict_on_spark(args)
    if args.input and not Path(args.input).is_file():
        raise UserError(f"input file {args.input} does not exist.")
    from mcbridge import load_model, mc_predict

    model = load_model(args.model, safe_mode=not args.unsafe_load, compile=False)  # predicts only
    to_parquet = str(args.output).endswith(".parquet")
    if args.input:
        x, y = _read_inputs(args.input, args.key, mmap=to_parquet)
        source = args.input
    else:
        source, (_, (x, y)), _ = _load(args.dataset, args.data_dir)
    x, y = _limit((x, y), args.limit)
    if y is not None:  # labels stored with the inputs: one per input, in the model's classes
        from mcbridge._checks import check_labels

        outputs = getattr(model, "outputs", None)
        y = check_labels(y, len(x), outputs[0].shape[-1] if outputs else None)
    if (args.tolerance is not None or args.class_margin is not None) and str(args.output).endswith(".arrow"):
        raise UserError("--tolerance and --class-margin write .npz (with n_used) or .parquet (one row per input "
                        "with n_used), not .arrow: choose another --output.")
    if to_parquet:
        return _predict_to_parquet(model, x, y, source, args)
    start = time.perf_counter()
    result = mc_predict(
        model,
        x,
        n_samples=args.n_samples,
        batch_size=args.batch_size,
        seed=args.seed,
        from_logits=args.from_logits,
        progress=None if not args.quiet else False,
        precision=args.precision,
        tolerance=args.tolerance,
        min_samples=args.min_samples,
        class_margin=args.class_margin,
    )
    seconds = time.perf_counter() - start
    _write_result(args.output, result, y)
    if result.n == 0:
        print(f"MC dropout on {source}: no inputs.")
        print(f"Saved samples {result.samples.shape} (n, classes, samples) to {args.output}")
        return 0
    pe, mi = result.predictive_entropy(), result.mutual_information()
    total = int(result.counts.sum())
    if result.n_used is None:
        print(f"MC dropout on {source}: {result.n} inputs x {result.n_samples} samples "
              f"in {seconds:.1f} s ({total / seconds:,.0f} samples/s)")
    else:
        print(f"MC dropout on {source}: {result.n} inputs, {result.n_used.min()} to {result.n_used.max()} "
              f"samples each ({_stop_rule(args)}; {total:,} in all) in {seconds:.1f} s "
              f"({total / seconds:,.0f} samples/s)")
    if y is not None:
        print(f"accuracy of the MC mean:   {np.mean(result.predicted_class == y):.4f}")
    spread = result.counts.min() > 1
    se_pe = f" (MC standard error per input {result.mc_standard_error('predictive_entropy').mean():.4f})" if spread else ""
    se_mi = f" (MC standard error per input {result.mc_standard_error('mutual_information').mean():.4f})" if spread else ""
    print(f"mean predictive entropy:   {pe.mean():.4f} nats{se_pe}")
    print(f"mean mutual information:   {mi.mean():.4f} nats{se_mi}")
    print(f"Saved samples {result.samples.shape} (n, classes, samples) to {args.output}")
    return 0


def _predict_on_spark(args) -> int:
    """`predict --spark MASTER`: a Parquet table of flattened inputs in, Spark's Parquet folder out."""
    if not (str(args.input or "").endswith(".parquet") and str(args.output).endswith(".parquet")):
        raise UserError("--spark needs --input and --output Parquet files (.parquet).")
    if not (args.input_col and args.key_col):
        raise UserError("--spark needs --input-col (array<float> inputs) and --key-col (integer keys).")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UserError("--spark needs pyspark: pip install 'mcbridge[spark]' (and Java 17).") from None
    from mcbridge.spark import mc_predict_spark, use_this_python

    running = SparkSession.getActiveSession()
    if running is None and args.spark.startswith("local"):
        use_this_python()  # the local workers run this Python, which has mcbridge
    spark = running or SparkSession.builder.master(args.spark).appName("mcbridge predict").getOrCreate()
    start = time.perf_counter()
    try:
        df = spark.read.parquet(args.input)
        cols = args.input_col.split(",")  # several inputs: their columns in the model's input order
        out = mc_predict_spark(df, args.model, input_col=cols[0] if len(cols) == 1 else cols, key_col=args.key_col,
                               n_samples=args.n_samples, seed=args.seed, batch_size=args.batch_size,
                               tolerance=args.tolerance, min_samples=args.min_samples,
                               class_margin=args.class_margin)
        out.write.mode("overwrite").parquet(args.output)
    finally:
        if running is None:
            spark.stop()
    print(f"MC dropout on {args.input} with Spark ({args.spark}): {args.n_samples} samples per input "
          f"in {time.perf_counter() - start:.1f} s")
    print(f"Saved one row of summaries per input to {args.output} (a folder of Parquet files)")
    return 0


def _stop_rule(args) -> str:
    """The adaptive stopping rule as the report names it."""
    if args.class_margin is not None:
        return f"class margin {args.class_margin:g}"
    return f"tolerance {args.tolerance:g}"


def _predict_to_parquet(model, x, y, source: str, args) -> int:
    """`predict` with a .parquet output: streamed, one row of summaries per input."""
    import pyarrow.parquet as pq

    from mcbridge.stream import predict_to_file

    start = time.perf_counter()
    predict_to_file(model, x, args.output, n_samples=args.n_samples, batch_size=args.batch_size,
                    seed=args.seed, from_logits=args.from_logits, progress=not args.quiet,
                    precision=args.precision, tolerance=args.tolerance, min_samples=args.min_samples,
                    class_margin=args.class_margin)
    seconds = time.perf_counter() - start
    table = pq.read_table(args.output, columns=["prediction", "predictive_entropy", "mutual_information"])
    n = table.num_rows
    print(f"MC dropout on {source}: {n} inputs x {args.n_samples} samples "
          f"in {seconds:.1f} s ({n * args.n_samples / seconds:,.0f} samples/s)")
    if y is not None:
        print(f"accuracy of the MC mean:   {np.mean(table['prediction'].to_numpy() == np.asarray(y)):.4f}")
    print(f"mean predictive entropy:   {np.mean(table['predictive_entropy'].to_numpy()):.4f} nats")
    print(f"mean mutual information:   {np.mean(table['mutual_information'].to_numpy()):.4f} nats")
    print(f"Saved one row of summaries per input to {args.output} (Parquet; see docs/SCALING.md)")
    return 0


def _write_result(path: str, result, y) -> None:
    if str(path).endswith(".arrow"):
        from mcbridge.arrow import write_arrow

        write_arrow(result, path)
        return
    extra = {} if y is None else {"y": y}
    if result.n_used is not None:
        extra["n_used"] = result.n_used

    def save(tmp):
        np.savez(
            tmp,
            samples=result.samples,
            mean=result.mean,
            variance=result.variance,
            predictive_entropy=result.predictive_entropy(),
            mutual_information=result.mutual_information(),
            **extra,
        )

    _save_atomic(path, save)


def cmd_demo(args) -> int:
    import keras

    from mcbridge import mc_predict, metrics

    name, (train, test), classes = _load(args.dataset, args.data_dir)
    (x_train, y_train), (x_test, y_test) = _limit(train, args.train_limit), _limit(test, args.test_limit)
    keras.utils.set_random_seed(args.seed)
    model = _build_for(x_train, len(classes), args.seed)
    print(f"mcbridge demo on {name}: training the seed CNN for {args.epochs} epoch(s) "
          f"on {len(x_train)} images.")
    t0 = time.perf_counter()
    _fit(model, x_train, y_train, args.epochs, 128)
    t_train = time.perf_counter() - t0

    det = model.predict(x_test, batch_size=256, verbose=0)
    t0 = time.perf_counter()
    result = mc_predict(model, x_test, n_samples=args.n_samples, seed=args.seed)
    t_mc = time.perf_counter() - t0

    pe, mi = result.predictive_entropy(), result.mutual_information()
    wrong = result.predicted_class != y_test
    rows = [
        ("accuracy", np.mean(det.argmax(1) == y_test), np.mean(~wrong)),
        ("NLL (nats)", metrics.nll(det, y_test), metrics.nll(result.mean, y_test)),
        ("Brier score", metrics.brier_score(det, y_test), metrics.brier_score(result.mean, y_test)),
        ("ECE (15 bins)", metrics.expected_calibration_error(det, y_test),
         metrics.expected_calibration_error(result.mean, y_test)),
    ]  # fmt: skip
    print()
    print(f"{len(x_test)} test images x {args.n_samples} MC samples "
          f"(training {t_train:.0f} s, MC prediction {t_mc:.1f} s, "
          f"{len(x_test) * args.n_samples / t_mc:,.0f} samples/s)")
    print()
    print(f"{'':24}{'deterministic':>15}{'MC dropout mean':>17}")
    for label, a, b in rows:
        print(f"{label:24}{a:15.4f}{b:17.4f}")
    print()
    print(f"{'':24}{'correct':>15}{'wrong':>17}")
    for label, values in (("predictive entropy", pe), ("mutual information", mi)):
        print(f"{'mean ' + label:24}{values[~wrong].mean():15.4f}"
              f"{values[wrong].mean() if wrong.any() else float('nan'):17.4f}")
    print(f"{'wrong items':24}{int((~wrong).sum()):15d}{int(wrong.sum()):17d}")
    print()
    print("AUROC for flagging wrong predictions: "
          f"predictive entropy {metrics.auroc(pe, wrong):.3f}, "
          f"mutual information {metrics.auroc(mi, wrong):.3f}")
    print()
    print(f"The {args.top} most uncertain test items (by mutual information):")
    print(f"{'index':>7}  {'true':<12}{'MC prediction':<14}{'p(pred)':>8}{'entropy':>9}{'MI':>8}")
    for i in np.argsort(-mi, kind="stable")[: args.top]:
        pred = result.predicted_class[i]
        print(f"{i:7d}  {classes[y_test[i]]:<12}{classes[pred]:<14}"
              f"{result.mean[i, pred]:8.3f}{pe[i]:9.3f}{mi[i]:8.3f}")
    print()
    print("Pictures and all the measures for a saved model: mcbridge train -o model.keras; "
          "mcbridge evaluate model.keras --output-dir report/")
    return 0


def cmd_evaluate(args) -> int:
    import json

    from mcbridge.report import MEASURES_FILE, evaluate_model

    path = evaluate_model(args.model, args.output_dir, dataset=args.dataset, data_dir=args.data_dir,
                          input_path=args.input, n_samples=args.n_samples, batch_size=args.batch_size,
                          seed=args.seed, limit=args.limit)  # fmt: skip  (errors: one line, in main())
    got = json.loads((path.parent / MEASURES_FILE).read_text())
    mc, det = got["mc_dropout_mean"], got["deterministic"]
    print(f"{Path(args.model).name}: {got['inputs']} inputs x {got['samples']} MC samples, seed {got['seed']}, "
          f"MC prediction {got['mc_seconds']:.1f} s")
    print()
    print(f"{'':36}{'deterministic':>14}{'MC dropout mean':>17}")
    rows = [("accuracy", "accuracy"), ("nll", "NLL (nats)"), ("brier", "Brier score"), ("ece", "ECE"),
            ("mce", "MCE (max calibration error)"),
            ("auroc_predictive_entropy", "AUROC wrong vs right (entropy)"),
            ("auroc_max_probability", "AUROC wrong vs right (max prob.)")]  # fmt: skip
    for key, label in rows:
        d = det.get(key) if det else None
        print(f"{label:36}{'' if d is None else f'{d:.4f}':>14}{mc[key]:17.4f}")
    print(f"{'AUROC wrong vs right (mutual inf.)':36}{'':>14}{mc['auroc_mutual_information']:17.4f}")
    for note in got["notes"]:
        print(f"\n{note}")
    print(f"\nWrote {path} ({MEASURES_FILE} and the pictures beside it).")
    return 0


def cmd_export(args) -> int:
    """`mcbridge export MODEL -o DIR`: a TensorFlow SavedModel serving MC summaries (docs/EXPORT.md)."""
    if not Path(args.model).is_file():
        raise UserError(f"model file {args.model} does not exist.")
    from mcbridge.export import export, load_exportable

    from mcbridge._checks import output_names
    from mcbridge.ensemble import Ensemble

    outputs = None if args.outputs is None else [o.strip() for o in args.outputs.split(",") if o.strip()]
    model = load_exportable(args.model, safe_mode=not args.unsafe_load)
    names = output_names(model.members[0] if isinstance(model, Ensemble) else model)
    heteroscedastic = args.heteroscedastic is not None
    if args.heteroscedastic:  # output names: True for those
        chosen = [o.strip() for o in args.heteroscedastic.split(",") if o.strip()]
        unknown = [o for o in chosen if o not in names]
        if unknown:
            raise UserError(f"--heteroscedastic names {unknown[0]!r}, not an output of the model "
                            f"(its outputs: {', '.join(names)}).")
        heteroscedastic = [o in chosen for o in names]
    start = time.perf_counter()
    path = export(model, args.output, n_samples=args.n_samples, batch_size=args.batch_size,
                  precision=args.precision, outputs=outputs, include_samples=args.include_samples,
                  overwrite=args.overwrite, task=args.task[0] if len(args.task) == 1 else args.task,
                  from_logits=args.from_logits, heteroscedastic=heteroscedastic, input_shape=args.input_shape)
    print(f"Exported {args.model} to {path} in {time.perf_counter() - start:.1f} s: {args.n_samples} MC samples "
          "per input; signatures serving_default (fresh masks) and seeded (seed, key); see docs/EXPORT.md")
    return 0


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def positive_int(text: str) -> int:
    """argparse type: a positive integer (`--n-samples -3` is a usage error)."""
    from mcbridge._checks import INT32_MAX

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    if value > INT32_MAX:
        raise argparse.ArgumentTypeError(f"expected a positive integer up to {INT32_MAX}, got {text}")
    return value


def shape_list(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated positive sizes, e.g. 128,128,3."""
    try:
        shape = tuple(int(d) for d in text.split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes separated by commas, e.g. 128,128,3; got {text!r}")
    return shape


def task_list(text: str) -> list[str]:
    """argparse type: comma-separated tasks, one for every output or one per output."""
    tasks = [t.strip() for t in text.split(",")]
    bad = [t for t in tasks if t not in ("classification", "regression")]
    if bad:
        raise argparse.ArgumentTypeError(f"expected classification or regression (comma-separated), got {bad[0]!r}")
    return tasks


def seed_int(text: str) -> int:
    """argparse type: a non-negative integer seed."""
    from mcbridge._checks import INT64_MAX

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if not 0 <= value <= INT64_MAX:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="mcbridge", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (for bug reports)")
    # `--debug` is accepted after the command as well (without resetting a
    # `--debug` given before it).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=OneLineErrorParser)

    def data_args(p, default="auto"):
        p.add_argument("--dataset", choices=["auto", "fashion-mnist", "digits"], default=default,
                       help="dataset to use; auto = Fashion-MNIST if installed, else digits "
                            f"(default: {default})")
        p.add_argument("--data-dir", help="directory with the Fashion-MNIST *-ubyte.gz files")

    # `predict` and `evaluate` share these, declared once; each adds its own
    # output options between the two (the order --help lists them in).
    def model_args(p, input_help):
        p.add_argument("model", help="saved Keras model (.keras) with dropout layers")
        data_args(p)
        p.add_argument("--input", "-i", help=input_help)

    def sampling_args(p, n_samples):
        p.add_argument("--n-samples", type=positive_int, default=n_samples,
                       help=f"MC samples (default: {n_samples})")
        p.add_argument("--batch-size", type=positive_int, default=128, help="inputs per batch (default: 128)")
        p.add_argument("--limit", type=positive_int, metavar="N", help="use the first N inputs only")
        p.add_argument("--seed", type=seed_int, help="seed for bit-identical samples")

    demo = sub.add_parser("demo", parents=[common], help="train a small CNN and show what MC dropout adds",
                          description="Train the seed CNN briefly, then compare the deterministic "
                                      "prediction with the MC dropout mean and list the most "
                                      "uncertain test items.")
    data_args(demo)
    demo.add_argument("--epochs", type=positive_int, default=3, help="training epochs (default: 3)")
    demo.add_argument("--train-limit", type=positive_int, default=20000, metavar="N",
                      help="train on the first N images (default: 20000)")
    demo.add_argument("--test-limit", type=positive_int, default=2000, metavar="N",
                      help="evaluate on the first N test images (default: 2000)")
    demo.add_argument("--n-samples", type=positive_int, default=30, help="MC samples (default: 30)")
    demo.add_argument("--top", type=positive_int, default=5, help="uncertain items to list (default: 5)")
    demo.add_argument("--seed", type=seed_int, default=0, help="random seed (default: 0)")
    demo.set_defaults(func=cmd_demo)

    train = sub.add_parser("train", parents=[common], help="train the seed CNN and save it as a .keras file",
                           description="Train the seed CNN (switchable dropout) on a dataset and "
                                       "save it; `mcbridge predict` and R's mc_load_model() read it.")
    data_args(train)
    train.add_argument("--output", "-o", required=True, help="where to save the model (.keras)")
    train.add_argument("--epochs", type=positive_int, default=5, help="training epochs (default: 5)")
    train.add_argument("--batch-size", type=positive_int, default=128, help="mini-batch size (default: 128)")
    train.add_argument("--limit", type=positive_int, metavar="N", help="train on the first N images only")
    train.add_argument("--seed", type=seed_int, help="random seed")
    train.set_defaults(func=cmd_train)

    pred = sub.add_parser("predict", parents=[common], help="MC dropout prediction with a saved model",
                          description="Predict each input --n-samples times with dropout on and "
                                      "save the samples (n, classes, samples) with their mean, "
                                      "variance and uncertainty measures.")
    model_args(pred, input_help=".npy or .npz file of inputs (instead of the test split of "
                                "--dataset); .npz may hold labels as `y`")
    pred.add_argument("--key", help="name of the inputs array inside an .npz file")
    pred.add_argument("--output", "-o", required=True,
                      help="where to save the samples: .npz, or .arrow (readable from R); "
                           ".parquet streams one row of summaries per input (docs/SCALING.md)")
    sampling_args(pred, n_samples=50)
    pred.add_argument("--from-logits", action="store_true",
                      help="the model outputs logits: apply a softmax to each sample")
    pred.add_argument("--precision", choices=PRECISIONS, default="float32",
                      help="bfloat16: convolutions and dense layers in bfloat16, faster on CPUs "
                           "with bfloat16 instructions (samples stay float32; default: float32)")
    pred.add_argument("--tolerance", type=float, metavar="SE",
                      help="adaptive sampling: each input stops once the MC standard error of its mean "
                           "probabilities is at most SE (at most --n-samples; .npz or .parquet output)")
    pred.add_argument("--class-margin", type=float, metavar="Z",
                      help="adaptive sampling (instead of --tolerance): each input stops once its two most probable "
                           "classes are more than Z of their summed MC standard errors apart (2 is a good start)")
    pred.add_argument("--min-samples", type=positive_int, default=10,
                      help="with --tolerance or --class-margin: samples every input gets, and the round size "
                           "(default: 10)")
    pred.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    pred.add_argument("--unsafe-load", action="store_true",
                      help="load a model file that holds Python code (Lambda layers). This "
                           "RUNS CODE FROM THE FILE: use it only for files you trust. "
                           "Without it such files are refused (Keras safe mode).")
    pred.add_argument("--spark", metavar="MASTER",
                      help="run on Spark (e.g. local[2] or a master URL): --input is a Parquet table "
                           "with --input-col and --key-col; needs mcbridge[spark]")
    pred.add_argument("--input-col", help="with --spark: the array<float> column of flattened inputs "
                                          "(several inputs: their columns in the model's input order, comma-separated)")
    pred.add_argument("--key-col", help="with --spark: the integer key column (keys the random streams)")
    pred.set_defaults(func=cmd_predict)

    ev = sub.add_parser("evaluate", parents=[common], help="measures and pictures of a saved model's uncertainty",
                        description="MC-predict labelled inputs with a saved model and write "
                                    "DIR/report.md (accuracy, NLL, Brier, ECE, AUROC of each "
                                    "uncertainty score, ...) with four PNG pictures.")
    model_args(ev, input_help=".npz file holding inputs `x` and labels `y` (instead of the test "
                              "split of --dataset)")
    ev.add_argument("--output-dir", "-o", required=True, help="folder for report.md and the PNGs")
    sampling_args(ev, n_samples=30)
    ev.set_defaults(func=cmd_evaluate)
    exp = sub.add_parser("export", parents=[common], help="write a TensorFlow SavedModel that serves MC uncertainty",
                         description="Export a saved model (.keras, or an ensemble file) as a TensorFlow "
                                     "SavedModel whose signatures return the MC mean, variance and "
                                     "uncertainty of each input; loading it needs TensorFlow only "
                                     "(TensorFlow Serving too). See docs/EXPORT.md.")
    exp.add_argument("model", help="saved Keras model (.keras) with dropout layers, or an ensemble file")
    exp.add_argument("--output", "-o", required=True, help="the SavedModel directory to create")
    exp.add_argument("--n-samples", type=positive_int, default=50, help="MC samples per input (default: 50)")
    exp.add_argument("--batch-size", type=positive_int, default=128,
                     help="inputs per compiled call, as mc_predict's (default: 128)")
    exp.add_argument("--outputs", metavar="NAMES",
                     help="comma-separated summaries, for every output (default: mean,variance,"
                          "predictive_entropy,mutual_information; regression: mean,variance; "
                          "heteroscedastic: mean,aleatoric_variance,epistemic_variance,predictive_variance)")
    exp.add_argument("--include-samples", action="store_true", help="also serve the samples")
    exp.add_argument("--task", type=task_list, default=["classification"], metavar="TASK[,TASK...]",
                     help="classification or regression; for a model with several outputs one per output, "
                          "comma-separated (default: classification)")
    exp.add_argument("--heteroscedastic", nargs="?", const="", metavar="OUTPUTS",
                     help="regression outputs hold d means then d log-variances: every output, or those "
                          "named (comma-separated output names)")
    exp.add_argument("--from-logits", action="store_true",
                     help="the model outputs logits: apply a softmax to each sample")
    exp.add_argument("--precision", choices=PRECISIONS, default="float32", help="as for predict (default: float32)")
    exp.add_argument("--input-shape", type=shape_list, metavar="D[,D...]",
                     help="for a model built on inputs of unknown size: the size to serve, the input's shape "
                          "without the batch axis, e.g. 128,128,3")
    exp.add_argument("--overwrite", action="store_true", help="replace an existing SavedModel directory")
    exp.add_argument("--unsafe-load", action="store_true",
                     help="load a model file that holds Python code (RUNS CODE FROM THE FILE)")
    exp.set_defaults(func=cmd_export)
    return parser


# What Keras imports at start-up, if installed, for features no command here
# uses (scikit-learn wrappers, pandas DataFrames as inputs, matplotlib image
# galleries): about 1 s of every command's start-up (`python -X importtime`).
_KERAS_OPTIONAL = ("sklearn", "pandas", "matplotlib")


def _import_keras_lean() -> None:
    """Imports Keras with `_KERAS_OPTIONAL` looking absent to it; later imports of them work as usual.

    A `None` in `sys.modules` makes `import` raise ImportError, which Keras
    catches (it treats the package as not installed); the entries are then
    removed, so mcbridge (scikit-learn's digits, the report's pictures) and
    a model's own code import them normally.
    """
    if "keras" in sys.modules:
        return
    hidden = [name for name in _KERAS_OPTIONAL if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import keras  # noqa: F401
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status.

    Usage errors (bad options or numbers) exit with status 2, as argparse does;
    any other user error (a missing file, a bad input array, a refused model)
    is one line on stderr and exit status 1; Ctrl-C exits with 130. `--debug`
    shows the traceback instead.
    """
    args = build_parser().parse_args(argv)
    try:
        _import_keras_lean()  # (after parsing: help and usage errors import no TensorFlow)
        return args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("mcbridge: interrupted; no output was written.", file=sys.stderr)
        return 130
    except (UserError, ValueError, TypeError, OSError, MemoryError) as err:
        if args.debug:
            raise
        text = " ".join(str(err).split()) or type(err).__name__
        if isinstance(err, (OSError, MemoryError)) and not isinstance(err, FileNotFoundError):
            text = f"{type(err).__name__}: {text}"
        print(f"mcbridge {args.command}: error: {text}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
