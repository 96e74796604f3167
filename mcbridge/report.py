"""An evaluation report: the measures of `mcbridge.evaluate` and the four pictures, in a folder.

`write_report(result, y, output_dir, x=...)` writes `report.md` (Markdown
tables of the measures, the pictures embedded by file name), `measures.json`
(the same numbers, for scripts) and the PNGs of `mcbridge.plots`. Given the
deterministic prediction (dropout off), the tables set it against the MC
dropout mean, the comparison docs/EVALUATION.md is about. `evaluate_model`
runs a saved model on a dataset or an `.npz` file first (both predictions,
timed, with a recorded seed); it is what `mcbridge evaluate` calls. Needs
matplotlib.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np

from mcbridge import metrics
from mcbridge._checks import check_labels
from mcbridge.evaluation import evaluate, select_uncertain
from mcbridge.metrics._common import _mean_probs_and_labels, _probs
from mcbridge.metrics.uncertainty import SCORES, uncertainty_score

__all__ = ["write_report", "evaluate_model", "PICTURES", "MEASURES_FILE"]

#: The numbers of the report, as JSON, next to `report.md`.
MEASURES_FILE = "measures.json"

#: File names of the pictures, by what they show.
PICTURES = {
    "reliability": "reliability.png",
    "scores": "scores_right_wrong.png",
    "uncertain": "most_uncertain.png",
    "spread": "sample_spread.png",
    "ood": "scores_in_out.png",
}


def write_report(
    result,
    y,
    output_dir,
    x=None,
    result_out=None,
    title: str = "MC dropout evaluation",
    n_bins: int = 15,
    k: int = 12,
    deterministic=None,
    seed: int | None = None,
    seconds: float | None = None,
) -> Path:
    """Write the evaluation measures and pictures of a result to `output_dir`.

    Args:
        result: An `MCResult` (its `class_names` label the pictures) or
            `(n, classes, samples)` probabilities.
        y: `(n,)` class labels: integer codes `0..classes-1`.
        output_dir: Folder to write to (created if needed).
        x: Optional inputs `(n, height, width[, channels])`: with them the
            grid of the most uncertain images is drawn.
        result_out: Optional samples of out-of-distribution inputs: adds
            their histogram, OOD AUROC and FPR at 95% TPR.
        title: First heading of the report.
        n_bins: Bins of the calibration errors.
        k: Inputs in the grid of the most uncertain ones.
        deterministic: Optional `(n, classes)` probabilities of the same
            model with dropout off (`model.predict(x)`): every measure is
            then reported for it beside the MC dropout mean.
        seed: The seed the samples were drawn with, to record.
        seconds: How long the MC prediction took, to record.

    Returns:
        The path of `report.md` (`measures.json` is written beside it).

    Raises:
        ValueError: labels or `deterministic` that do not match `result`.
    """
    from mcbridge import plots

    n, c, s = _probs(result).shape
    y = check_labels(y, n, c, class_names=getattr(result, "class_names", None))
    det_p = None
    if deterministic is not None:
        det_p = np.asarray(deterministic, dtype=np.float64)
        if det_p.shape != (n, c):
            raise ValueError(
                "Invalid value received for argument `deterministic`. Expected probabilities of "
                f"shape ({n}, {c}) (the model's prediction with dropout off). Received: shape={det_p.shape}"
            )
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    measures = evaluate(result, y, n_bins=n_bins)
    pics = {"reliability": plots.reliability_diagram(result, y, n_bins=n_bins)}
    pics["scores"] = plots.score_histogram(result, y, "predictive_entropy")
    if x is not None and np.ndim(x) in (3, 4):
        pics["uncertain"] = plots.uncertain_grid(result, x, k=k, y=y)
    top = int(select_uncertain(result, 1)[0])
    pics["spread"] = plots.sample_spread(result, top)
    if result_out is not None:
        pics["ood"] = plots.score_histogram(result, score="predictive_entropy", result_out=result_out)
    for key, fig in pics.items():
        fig.savefig(out / PICTURES[key], dpi=100)

    names = getattr(result, "class_names", None)
    table = _measures(result, y, n_bins)
    det_table = _measures(det_p, y, n_bins) if det_p is not None else None
    lines = [f"# {title}", "", f"{n} inputs, {c} classes, {s} MC samples each."]
    if names:
        lines.append(f"Classes: {', '.join(names)}.")
    run = []
    if seed is not None:
        run.append(f"seed {seed}")
    if seconds is not None:
        run.append(f"MC prediction {seconds:.1f} s ({n * s / max(seconds, 1e-9):,.0f} samples/s)")
    if run:
        lines.append(f"Run: {', '.join(run)}.")
    if det_table is None:
        lines += ["", "## Measures (MC mean)", "", "| measure | value |", "|---|---:|"]
        lines += [f"| {label} | {table[key]:.4f} |" for key, label in _ROWS.items()]
    else:
        lines += ["", "## Deterministic prediction vs MC dropout mean", "",
                  "| measure | deterministic (dropout off) | MC dropout mean |", "|---|---:|---:|"]  # fmt: skip
        lines += [f"| {label} | {det_table[key]:.4f} | {table[key]:.4f} |" for key, label in _ROWS.items()]
        lines += ["", "Lower is better for all but accuracy. " + _comparison(det_table, table)]
    notes = [_mce_note(result, y, n_bins, "MC dropout mean's")]
    if det_p is not None:
        notes.append(_mce_note(det_p, y, n_bins, "deterministic prediction's"))
    notes = [note for note in notes if note]
    if notes:
        lines += [""] + notes
    lines += ["", "## Does uncertainty flag wrong predictions?", ""]
    head = "| score | misclassification AUROC | AURC | AUGRC |"
    sep = "|---|---:|---:|---:|"
    if result_out is not None:
        head += " OOD AUROC | FPR at 95% TPR |"
        sep += "---:|---:|"
    lines += [head, sep]
    for name in SCORES:
        row = (f"| {name}{' (MC)' if det_p is not None else ''} | {measures['auroc_' + name]:.4f} "
               f"| {metrics.aurc(result, y, name):.4f} | {metrics.augrc(result, y, name):.4f} |")  # fmt: skip
        if result_out is not None:
            row += (f" {metrics.ood_auroc(result, result_out, name):.4f} "
                    f"| {metrics.fpr_at_95_tpr(result, result_out, name):.4f} |")  # fmt: skip
        lines.append(row)
    if det_p is not None:
        det_samples = det_p[:, :, None]
        for name in _DETERMINISTIC_SCORES:
            auroc = metrics.auroc(uncertainty_score(det_samples, name), det_p.argmax(axis=1) != y)
            row = (f"| {name} (deterministic) | {auroc:.4f} | {metrics.aurc(det_samples, y, name):.4f} "
                   f"| {metrics.augrc(det_samples, y, name):.4f} |")  # fmt: skip
            if result_out is not None:
                row += " | |"
            lines.append(row)
            det_table[f"auroc_{name}"] = auroc
    lines += [
        "",
        "AUROC: 0.5 is chance, 1 perfect. AURC/AUGRC: lower is better.",
        "",
        "## Pictures",
        "",
        f"![Reliability diagram]({PICTURES['reliability']})",
        "",
        f"![Predictive entropy of right and wrong predictions]({PICTURES['scores']})",
        "",
    ]
    if "uncertain" in pics:
        lines += [f"![The most uncertain inputs]({PICTURES['uncertain']})", ""]
    lines += [f"![MC samples of the most uncertain input (#{top})]({PICTURES['spread']})", ""]
    if "ood" in pics:
        lines += [f"![Predictive entropy in and out of distribution]({PICTURES['ood']})", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    table.update({f"auroc_{name}": measures[f"auroc_{name}"] for name in SCORES})
    record = {"inputs": n, "classes": c, "samples": s, "seed": seed, "mc_seconds": seconds,
              "mc_dropout_mean": table, "deterministic": det_table, "notes": notes}  # fmt: skip
    (out / MEASURES_FILE).write_text(json.dumps(_plain(record), indent=1) + "\n")
    return path


#: Rows of the measures table: key in `_measures` -> label.
_ROWS = {
    "accuracy": "accuracy",
    "nll": "NLL (nats)",
    "brier": "Brier score",
    "ece": "ECE",
    "adaptive_ece": "adaptive ECE (equal-mass bins)",
    "rms_ce": "RMS calibration error",
    "mce": "MCE (max calibration error)",
}
#: Scores that mean something for one deterministic prediction (no spread).
_DETERMINISTIC_SCORES = ("predictive_entropy", "max_probability")


def _measures(probs, y, n_bins: int) -> dict[str, float]:
    """The rows of the measures table for `(n, classes[, samples])` probabilities (MC mean)."""
    p, y = _mean_probs_and_labels(probs, y)
    return {
        "accuracy": metrics.accuracy(p, y),
        "nll": metrics.nll(p, y),
        "brier": metrics.brier_score(p, y),
        "ece": metrics.expected_calibration_error(p, y, n_bins),
        "adaptive_ece": metrics.expected_calibration_error(p, y, n_bins, adaptive=True),
        "rms_ce": metrics.expected_calibration_error(p, y, n_bins, norm="l2"),
        "mce": metrics.expected_calibration_error(p, y, n_bins, norm="max"),
    }


def _comparison(det: dict, mc: dict) -> str:
    """One sentence: how the MC mean's NLL, Brier, ECE and accuracy compare with the deterministic ones."""
    parts = []
    for key, label in (("nll", "NLL"), ("brier", "Brier"), ("ece", "ECE")):
        word = "lowers" if mc[key] < det[key] else "raises" if mc[key] > det[key] else "keeps"
        parts.append(f"{word} the {label} ({det[key]:.4f} -> {mc[key]:.4f})")
    diff = mc["accuracy"] - det["accuracy"]
    acc = f"changes accuracy by {diff:+.4f}" if diff else "keeps the accuracy"
    return f"Averaging the MC samples {', '.join(parts)} and {acc}."


def _mce_note(probs, y, n_bins: int, whose: str) -> str | None:
    """A note when the largest calibration gap sits in a near-empty bin (< 10 inputs and < 1%)."""
    b = metrics.calibration_bins(probs, y, n_bins=n_bins)
    gap = np.where(b["count"] > 0, np.abs(b["accuracy"] - b["confidence"]), -1.0)
    j = int(np.argmax(gap))
    count, n = int(b["count"][j]), int(b["count"].sum())
    if count >= max(10, 0.01 * n):
        return None
    return (
        f"Note: the {whose} MCE ({gap[j]:.4f}) comes from a near-empty bin: {count} of {n} inputs "
        f"at confidence {b['lower'][j]:.2f}-{b['upper'][j]:.2f}. One input more or less moves it a "
        "lot; read the ECE (every bin, weighted by its inputs) instead."
    )


def _plain(value):
    """`value` with NumPy numbers as Python ones and NaN as None (valid JSON)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _inputs(dataset, data_dir, input_path):
    from mcbridge import datasets

    if input_path is not None:
        path = Path(input_path)
        if path.suffix != ".npz" or not path.is_file():
            raise FileNotFoundError(f"--input must be an existing .npz file holding `x` and `y`: {path}")
        with np.load(path, allow_pickle=False) as z:
            if "x" not in z or "y" not in z:
                raise ValueError(f"{path} must hold arrays `x` and `y`; it holds {sorted(z.keys())}.")
            names = tuple(str(c) for c in z["class_names"]) if "class_names" in z else None
            return str(path), z["x"], z["y"], names  # (labels are checked with the samples)
    if dataset == "auto":
        try:
            return _inputs("fashion-mnist", data_dir, None)
        except FileNotFoundError:
            return _inputs("digits", None, None)
    if dataset == "fashion-mnist":
        _, (x, y) = datasets.load_fashion_mnist(data_dir)
        return "Fashion-MNIST test set", x, y, datasets.FASHION_MNIST_CLASSES
    if dataset == "digits":
        _, (x, y) = datasets.load_digits()
        return "digits test set (scikit-learn)", x, y, datasets.DIGITS_CLASSES
    raise ValueError(f"unknown dataset {dataset!r}")


def evaluate_model(
    model_path,
    output_dir,
    dataset: str = "auto",
    data_dir=None,
    input_path=None,
    n_samples: int = 30,
    batch_size: int = 128,
    seed: int | None = None,
    limit: int | None = None,
) -> Path:
    """MC-predict a saved model on labelled inputs and write the report (`mcbridge evaluate`).

    Args:
        model_path: A saved Keras model (`.keras`) with dropout layers.
        output_dir: Folder for `report.md` and the PNGs.
        dataset: `"fashion-mnist"`, `"digits"` or `"auto"` (its test split).
        data_dir: Folder of the Fashion-MNIST files.
        input_path: An `.npz` file holding `x` and `y` (and optionally
            `class_names`), used instead of `dataset`.
        n_samples, batch_size, seed: As `mcbridge.mc_predict`; without a
            seed one is drawn and recorded in the report.
        limit: Use the first `limit` inputs only.

    Returns:
        The path of `report.md` (`measures.json` beside it holds the numbers).

    Raises:
        FileNotFoundError: the model or input file does not exist.
        IsADirectoryError: `model_path` is a folder (see `mcbridge.load_model`).
    """
    from mcbridge import load_model, mc_predict
    from mcbridge.result import MCResult

    if not os.path.exists(model_path):  # (a folder: load_model says what it is and what to pass)
        raise FileNotFoundError(f"model file {model_path} does not exist.")
    source, x, y, names = _inputs(dataset, data_dir, input_path)
    x, y = x[:limit], y[:limit]
    model = load_model(model_path, compile=False)  # predicts only: no optimizer to rebuild
    outputs = getattr(model, "outputs", None)
    check_labels(y, len(x), outputs[0].shape[-1] if outputs else None)  # before the long prediction
    if seed is None:  # draw one and record it, so the report can be repeated
        seed = int(np.random.SeedSequence().entropy % 2**31)
    det = model.predict(x, batch_size=batch_size, verbose=0)  # dropout off: the deterministic baseline
    start = time.perf_counter()
    res = mc_predict(model, x, n_samples=n_samples, batch_size=batch_size, seed=seed, progress=False)
    seconds = time.perf_counter() - start
    if names is not None and len(names) == res.n_classes:
        res = MCResult(res.samples, class_names=names)
    return write_report(res, y, output_dir, x=x, title=f"MC dropout evaluation: {Path(model_path).name} on {source}",
                        deterministic=det, seed=seed, seconds=seconds)  # fmt: skip
