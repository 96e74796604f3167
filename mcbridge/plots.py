"""Pictures of MC dropout uncertainty (needs matplotlib: `pip install mcbridge[plots]`).

Five pictures, each a function that returns a `matplotlib.figure.Figure`
(a subclass that notebooks display) and, given `path`, also writes it (PNG for a `.png` name):
- `reliability_diagram`: accuracy against confidence per bin, ECE in the title.
- `score_histogram`: an uncertainty score for right vs wrong predictions, or
  for familiar vs unfamiliar (out-of-distribution) inputs.
- `uncertain_grid`: the most uncertain input images with their mean class
  probabilities.
- `sample_spread`: the MC samples of one input, per class.
- `uncertainty_map`: one input of a dense output (a segmentation): the input,
  the predicted classes and an uncertainty map side by side.

Figures are made without `pyplot` (no GUI backend, no global state), so they
work on a headless machine and never change your matplotlib backend. In a
notebook (Jupyter, VS Code, Colab) a figure left as the last expression of a
cell, or passed to `display()`, shows inline as a PNG: the figures have a
`_repr_png_` (IPython's own figure formatter, active after `%matplotlib
inline` or importing `pyplot`, takes precedence; either way one picture).
Class names come from `result.class_names` or `class_names`. matplotlib is
imported when a function is called, not with this module.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence

import numpy as np

from mcbridge import metrics
from mcbridge._checks import check_labels
from mcbridge.metrics._common import _mean_probs_and_labels, _probs
from mcbridge.metrics.uncertainty import uncertainty_score

__all__ = ["reliability_diagram", "score_histogram", "uncertain_grid", "sample_spread", "uncertainty_map"]

_RIGHT, _WRONG, _MEAN = "#4C72B0", "#C44E52", "#DD8452"


@functools.cache
def _figure_class():
    """`matplotlib.figure.Figure` with a PNG rich display (IPython's `_repr_png_`).

    Without pyplot a figure has no IPython formatter unless the inline backend
    registered one (it does so only when pyplot is imported), so a plain
    `Figure` shows as `<Figure size ...>` in a fresh kernel. This subclass
    renders itself instead; nothing global is touched.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "mcbridge.plots needs matplotlib: `pip install mcbridge[plots]` "
            "(or `pip install matplotlib`)."
        ) from err

    class InlineFigure(Figure):
        """A `matplotlib.figure.Figure` that IPython displays as a PNG."""

        def _repr_png_(self) -> bytes:
            buf = io.BytesIO()
            self.savefig(buf, format="png", dpi=100)
            return buf.getvalue()

    # Pickled by reference as `mcbridge.plots.InlineFigure` (module __getattr__).
    InlineFigure.__module__, InlineFigure.__qualname__ = __name__, "InlineFigure"
    return InlineFigure


def __getattr__(name: str):
    if name == "InlineFigure":
        return _figure_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _figure(figsize):
    return _figure_class()(figsize=figsize, layout="constrained")


def _finish(fig, path):
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def _names(result, class_names, k) -> list[str]:
    names = class_names if class_names is not None else getattr(result, "class_names", None)
    if names is None:
        return [str(i) for i in range(k)]
    names = [str(c) for c in names]
    if len(names) != k:
        raise ValueError(
            "Invalid value received for argument `class_names`. Expected "
            f"{k} names (one per class). Received: {len(names)} names"
        )
    return names


def reliability_diagram(
    probs, y, n_bins: int = 15, adaptive: bool = False, path=None, title: str | None = None
):
    """Reliability diagram: accuracy against mean confidence per confidence bin.

    Bars show each bin's accuracy, the diagonal perfect calibration, and the
    hatched red parts the gap between accuracy and the bin's mean confidence; a thin histogram below counts inputs per bin.

    Args:
        probs: `(n, classes)` probabilities, `(n, classes, samples)` samples or
            an `MCResult` (the mean over samples is used).
        y: `(n,)` integer labels from 0.
        n_bins: Number of bins (see `mcbridge.metrics.calibration_bins`).
        adaptive: Equal-mass bins instead of equal-width ones.
        path: Optional file to write (e.g. `"reliability.png"`).
        title: Title before the ECE (default "Reliability diagram").

    Returns:
        A `matplotlib.figure.Figure`.
    """
    b = metrics.calibration_bins(probs, y, n_bins=n_bins, adaptive=adaptive)
    ece = metrics.expected_calibration_error(probs, y, n_bins=n_bins, adaptive=adaptive)
    fig = _figure((5, 5.6))
    ax, hist = fig.subplots(2, 1, height_ratios=[4, 1], sharex=True)
    keep = b["count"] > 0
    if adaptive:
        left, width = b["lower"][keep], np.maximum(b["upper"][keep] - b["lower"][keep], 0.005)
    else:
        left, width = b["lower"][keep], b["upper"][keep] - b["lower"][keep]
    acc, conf = b["accuracy"][keep], b["confidence"][keep]
    ax.bar(left, acc, width=width, align="edge", color=_RIGHT, edgecolor="white", label="accuracy")
    ax.bar(left, conf - acc, bottom=acc, width=width, align="edge", fill=False, hatch="///",
           edgecolor=_WRONG, linewidth=0.8, label="gap to mean confidence")  # fmt: skip
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfect calibration")
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy")
    ax.legend(loc="upper left", frameon=False)
    kind = "adaptive ECE" if adaptive else "ECE"
    ax.set_title(f"{title or 'Reliability diagram'} ({kind} = {ece:.3f}, {n_bins} bins)")
    hist.bar(left, b["count"][keep], width=width, align="edge", color="grey", edgecolor="white")
    hist.set(xlabel="confidence (largest mean probability)", ylabel="inputs")
    return _finish(fig, path)


def score_histogram(
    result,
    y=None,
    score: str = "predictive_entropy",
    result_out=None,
    bins: int = 30,
    path=None,
):
    """Histograms of an uncertainty score: right vs wrong, or in vs out of distribution.

    Args:
        result: `(n, classes, samples)` samples or an `MCResult`.
        y: `(n,)` integer labels from 0: compare right and wrong predictions.
        score: Name of an uncertainty score (`mcbridge.metrics.SCORES`).
        result_out: Samples of unfamiliar inputs: compare `result` (in
            distribution) with them instead. Give `y` or `result_out`.
        bins: Number of histogram bins.
        path: Optional file to write.

    Returns:
        A `matplotlib.figure.Figure`; the title gives the AUROC.

    Raises:
        ValueError: neither or both of `y` and `result_out` are given.
    """
    if (y is None) == (result_out is None):
        raise ValueError("Give exactly one of `y` (right vs wrong) and `result_out` (in vs out).")
    s = uncertainty_score(result, score)
    if y is not None:
        p, y = _mean_probs_and_labels(result, y)
        wrong = p.argmax(axis=1) != y
        groups = [(s[~wrong], f"right ({(~wrong).sum()})", _RIGHT), (s[wrong], f"wrong ({wrong.sum()})", _WRONG)]
        auc, what = metrics.auroc(s, wrong), "misclassification AUROC"
    else:
        s_out = uncertainty_score(result_out, score)
        groups = [(s, f"in distribution ({s.size})", _RIGHT), (s_out, f"out of distribution ({s_out.size})", _WRONG)]
        auc, what = metrics.ood_auroc(result, result_out, score), "OOD AUROC"
    fig = _figure((6, 4))
    ax = fig.subplots()
    edges = np.histogram_bin_edges(np.concatenate([g[0] for g in groups]), bins=bins)
    for values, label, color in groups:
        ax.hist(values, bins=edges, density=True, alpha=0.55, color=color, label=label)
    ax.set(xlabel=score.replace("_", " "), ylabel="density")
    ax.legend(frameon=False)
    ax.set_title(f"{score.replace('_', ' ')}: {what} = {auc:.3f}")
    return _finish(fig, path)


def uncertain_grid(
    result,
    x,
    k: int = 12,
    score: str = "mutual_information",
    y=None,
    class_names: Sequence[str] | None = None,
    ncols: int = 4,
    path=None,
):
    """The `k` most uncertain inputs as images, each with its mean class probabilities.

    Args:
        result: `(n, classes, samples)` samples or an `MCResult` for `x`.
        x: The inputs, `(n, height, width)` or `(n, height, width, channels)`
            (1 or 3 channels).
        k: How many inputs (see `mcbridge.select_uncertain`).
        score: Name of the uncertainty score that ranks them.
        y: Optional `(n,)` class labels (integer codes `0..classes-1`): the
            true class is marked.
        class_names: Names of the classes (default: `result.class_names`,
            else the indices).
        ncols: Inputs per row.
        path: Optional file to write.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    from mcbridge.evaluation import select_uncertain

    samples = _probs(result)
    n, c, _ = samples.shape
    x = np.asarray(x)
    if x.shape[0] != n or x.ndim not in (3, 4):
        raise ValueError(
            "Invalid value received for argument `x`. Expected images of shape "
            f"({n}, height, width[, channels]). Received: shape={x.shape}"
        )
    if y is not None:
        y = check_labels(y, n, c, class_names=class_names or getattr(result, "class_names", None))
    names = _names(result, class_names, c)
    idx = select_uncertain(samples, k, score=score)
    s = uncertainty_score(samples, score)
    mean = samples.mean(axis=2, dtype=np.float64)
    ncols = min(ncols, len(idx))
    nrows = -(-len(idx) // ncols)
    fig = _figure((3.4 * ncols, 1.9 * nrows + 0.4))
    axes = fig.subplots(nrows, 2 * ncols, width_ratios=[1, 1.3] * ncols, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for j, i in enumerate(idx):
        img_ax, bar_ax = axes[j // ncols, 2 * (j % ncols)], axes[j // ncols, 2 * (j % ncols) + 1]
        img = x[i][..., 0] if x.ndim == 4 and x.shape[-1] == 1 else x[i]
        img_ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        img_ax.set_title(f"#{i}  {score.replace('_', ' ')[:11]} {s[i]:.2f}", fontsize=7)
        bar_ax.set_axis_on()
        colors = [_MEAN] * c
        if y is not None:
            colors[y[i]] = _RIGHT
        bar_ax.barh(np.arange(c), mean[i], color=colors)
        bar_ax.set_yticks(np.arange(c), [nm[:12] for nm in names], fontsize=6)
        bar_ax.invert_yaxis()
        bar_ax.set_xlim(0, 1)
        bar_ax.tick_params(axis="x", labelsize=6)
        truth = f"true {names[y[i]][:12]}" if y is not None else ""
        bar_ax.set_title(truth, fontsize=7)
    fig.suptitle(f"The {len(idx)} most uncertain inputs by {score.replace('_', ' ')} "
                 "(bars: mean class probabilities" + ("; blue: true class)" if y is not None else ")"),
                 fontsize=9)  # fmt: skip
    return _finish(fig, path)


def sample_spread(result, index: int, class_names: Sequence[str] | None = None, path=None):
    """The MC samples of one input: per class, a box plot and every sample as a dot.

    Args:
        result: `(n, classes, samples)` samples or an `MCResult`.
        index: Which input (0-based).
        class_names: Names of the classes (default: `result.class_names`,
            else the indices).
        path: Optional file to write.

    Returns:
        A `matplotlib.figure.Figure`; the mean of each class is a diamond.
    """
    samples = _probs(result)
    n, c, s = samples.shape
    if not 0 <= int(index) < n:
        raise ValueError(
            f"Invalid value received for argument `index`. Expected an integer in [0, {n - 1}]. "
            f"Received: index={index}"
        )
    names = _names(result, class_names, c)
    one = samples[int(index)].astype(np.float64)  # (classes, samples)
    fig = _figure((max(5, 0.75 * c + 2), 4))
    ax = fig.subplots()
    pos = np.arange(c)
    ax.boxplot(one.T, positions=pos, widths=0.5, showfliers=False,
               medianprops={"color": "grey"})  # fmt: skip
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, size=one.shape)
    ax.scatter((pos[:, None] + jitter).ravel(), one.ravel(), s=8, alpha=0.5, color=_RIGHT, zorder=3)
    ax.scatter(pos, one.mean(axis=1), marker="D", color=_WRONG, zorder=4, label="mean")
    long = max(map(len, names)) > 3
    ax.set_xticks(pos, names, rotation=30 if long else 0, ha="right" if long else "center")
    ax.set(ylim=(-0.02, 1.02), ylabel="probability")
    ax.legend(frameon=False, loc="upper right")
    ax.set_title(f"Input #{int(index)}: {s} MC samples per class")
    return _finish(fig, path)


def uncertainty_map(result, x, index: int = 0, y=None, score: str = "mutual_information",
                    class_names: Sequence[str] | None = None, path=None):
    """One input of a dense output (a segmentation) side by side: the input, the prediction, an uncertainty map.

    Args:
        result: An `MCResult` (or samples) of shape `(n, H, W, classes, samples)`.
        x: The inputs `(n, H, W[, channels])` (1 or 3 channels are drawn; others: the first).
        index: Which input (0-based).
        y: Optional true labels `(n, H, W)`: a fourth panel marks the wrong pixels.
        score: The uncertainty map's score (`mcbridge.metrics.uncertainty.SCORES`).
        class_names: Names of the classes for the prediction's colour bar.
        path: Optional file to write.

    Returns:
        A `matplotlib.figure.Figure`.

    Raises:
        ValueError: not a 2-d dense output, `x` or `y` of another height and
            width, or `index` out of range.
    """
    samples = np.asarray(getattr(result, "samples", result))
    if samples.ndim != 5:
        raise ValueError(
            "Invalid value received for argument `result`. Expected samples of shape "
            f"(n, H, W, classes, samples) (a segmentation). Received: shape={samples.shape}"
        )
    n, h, w, c, _ = samples.shape
    if not 0 <= int(index) < n:
        raise ValueError(
            f"Invalid value received for argument `index`. Expected an integer in [0, {n - 1}]. "
            f"Received: index={index}"
        )
    x = np.asarray(x)
    if x.shape[:3] != (n, h, w):
        raise ValueError(
            f"Invalid value received for argument `x`. Expected the {n} inputs of shape ({n}, {h}, {w}[, channels]) "
            f"the result was predicted from. Received: x.shape={x.shape}"
        )
    one = samples[int(index) : int(index) + 1].reshape(-1, c, samples.shape[-1], order="F")
    mean = one.mean(axis=-1)
    predicted = mean.argmax(axis=1).reshape(h, w, order="F")
    uncertainty = uncertainty_score(one, score).reshape(h, w, order="F")
    names = _names(result, class_names, c)
    image = x[int(index)].astype(np.float64)
    if image.ndim == 3:
        image = image if image.shape[-1] == 3 else image[..., 0]
    panels = 3 if y is None else 4
    fig = _figure((3.1 * panels + 0.6, 3.4))
    axes = fig.subplots(1, panels)
    axes[0].imshow(image, cmap=None if image.ndim == 3 else "gray")
    axes[0].set_title(f"input #{int(index)}")
    shown = axes[1].imshow(predicted, cmap="viridis", vmin=0, vmax=max(c - 1, 1), interpolation="nearest")
    axes[1].set_title("predicted class")
    bar = fig.colorbar(shown, ax=axes[1], shrink=0.8, ticks=range(c))
    bar.ax.set_yticklabels(names)
    heat = axes[2].imshow(uncertainty, cmap="magma", interpolation="nearest")
    axes[2].set_title(score.replace("_", " "))
    fig.colorbar(heat, ax=axes[2], shrink=0.8)
    if y is not None:
        labels = np.asarray(y)
        if labels.shape[:3] != (n, h, w):
            raise ValueError(
                f"Invalid value received for argument `y`. Expected labels of shape ({n}, {h}, {w}). "
                f"Received: y.shape={labels.shape}"
            )
        wrong = predicted != labels[int(index)]
        axes[3].imshow(wrong, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        axes[3].set_title(f"wrong pixels ({wrong.mean():.1%})")
    for ax in axes:
        ax.set_axis_off()
    return _finish(fig, path)
