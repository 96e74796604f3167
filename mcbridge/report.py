"""An evaluation report: the measures of `mcbridge.evaluate` and the four pictures, in a folder.

`write_report(result, y, output_dir, x=...)` writes `report.md` (a
Markdown table of the measures, the pictures embedded by file name) and the
PNGs of `mcbridge.plots`. `evaluate_model` runs a saved model on a dataset or
an `.npz` file first; it is what `mcbridge evaluate` calls. Needs matplotlib.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mcbridge import metrics
from mcbridge._checks import check_labels
from mcbridge.evaluation import evaluate, select_uncertain
from mcbridge.metrics._common import _probs
from mcbridge.metrics.uncertainty import SCORES

__all__ = ["write_report", "evaluate_model", "PICTURES"]

#: File names of the pictures, by what they show.
PICTURES = {
    "reliability": "reliability.png",
    "scores": "scores_right_wrong.png",
    "uncertain": "most_uncertain.png",
    "spread": "sample_spread.png",
    "ood": "scores_in_out.png",
}

_LABELS = {
    "accuracy": "accuracy",
    "nll": "NLL (nats)",
    "brier": "Brier score",
    "ece": "ECE",
    "adaptive_ece": "adaptive ECE (equal-mass bins)",
    "aurc": "AURC (predictive entropy)",
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

    Returns:
        The path of `report.md`.
    """
    from mcbridge import plots

    n, c, s = _probs(result).shape
    y = check_labels(y, n, c)
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
    lines = [f"# {title}", "", f"{n} inputs, {c} classes, {s} MC samples each."]
    if names:
        lines.append(f"Classes: {', '.join(names)}.")
    lines += ["", "## Measures (MC mean)", "", "| measure | value |", "|---|---:|"]
    for key, label in _LABELS.items():
        lines.append(f"| {label} | {measures[key]:.4f} |")
    for label, norm in (("RMS calibration error", "l2"), ("MCE (max calibration error)", "max")):
        lines.append(f"| {label} | {metrics.expected_calibration_error(result, y, n_bins, norm=norm):.4f} |")
    lines += ["", "## Does uncertainty flag wrong predictions?", ""]
    head = "| score | misclassification AUROC | AURC | AUGRC |"
    sep = "|---|---:|---:|---:|"
    if result_out is not None:
        head += " OOD AUROC | FPR at 95% TPR |"
        sep += "---:|---:|"
    lines += [head, sep]
    for name in SCORES:
        row = (f"| {name} | {measures['auroc_' + name]:.4f} | {metrics.aurc(result, y, name):.4f} "
               f"| {metrics.augrc(result, y, name):.4f} |")  # fmt: skip
        if result_out is not None:
            row += (f" {metrics.ood_auroc(result, result_out, name):.4f} "
                    f"| {metrics.fpr_at_95_tpr(result, result_out, name):.4f} |")  # fmt: skip
        lines.append(row)
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
    return path


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
        n_samples, batch_size, seed: As `mcbridge.mc_predict`.
        limit: Use the first `limit` inputs only.

    Returns:
        The path of `report.md`.

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
    res = mc_predict(model, x, n_samples=n_samples, batch_size=batch_size, seed=seed, progress=False)
    if names is not None and len(names) == res.n_classes:
        res = MCResult(res.samples, class_names=names)
    return write_report(res, y, output_dir, x=x, title=f"MC dropout evaluation: {Path(model_path).name} on {source}")
