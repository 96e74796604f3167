"""Calibration: are the predicted probabilities honest about the labels?

Every function takes `probs`, the `(n, classes)` probabilities (for MC
dropout: the mean over samples), or `(n, classes, samples)` samples or an
`MCResult` whose mean over samples is used, and `y`, `(n,)` integer labels
counted from 0 (or class names). A dense output `(n, *dims, classes,
samples)` with labels `(n, *dims)` counts every input and position as one
prediction (positions pooled in Fortran order, as R); `ignore` leaves some
out (`mcbridge.metrics._common.pooled`). Names follow torch-uncertainty
where it has them.
"""

from __future__ import annotations

import numpy as np

from mcbridge._checks import check_choice, positive_int
from mcbridge.metrics._common import _mean_probs_and_labels

__all__ = [
    "accuracy",
    "negative_log_likelihood",
    "nll",
    "brier_score",
    "expected_calibration_error",
    "calibration_bins",
    "CALIBRATION_NORMS",
]

#: The norms of `expected_calibration_error`: "l1" (ECE), "l2" (RMS
#: calibration error) and "max" (MCE, maximum calibration error).
CALIBRATION_NORMS = ("l1", "l2", "max")


def accuracy(probs, y, ignore=None) -> float:
    """Fraction of inputs whose top class (first on ties) is the label.

    Args:
        probs: `(n, classes)` probabilities, or `(n, classes, samples)` or
            `(n, *dims, classes, samples)` (an `MCResult` too), whose mean
            over samples is used.
        y: `(n,)` integer labels from 0; `(n, *dims)` for a dense output.
        ignore: Labels left out: a label value (e.g. a void label 255),
            a list of them, or a boolean array shaped like `y`, True where
            to ignore. None: none.

    Returns:
        A float in `[0, 1]`.

    Raises:
        TypeError: labels that are not integer class codes (see
            `mcbridge._checks.check_labels`).
        ValueError: the shapes do not match (labels not `(n,)` or
            `(n, *dims)`), a label is out of range, or `ignore` is of
            another shape than `y` or leaves out every label.
    """
    p, y = _mean_probs_and_labels(probs, y, ignore)
    return float(np.mean(p.argmax(axis=1) == y))


def negative_log_likelihood(probs, y, eps: float = 1e-12, ignore=None) -> float:
    """Mean negative log-likelihood of the labels, in nats.

    `-mean_i log(max(p[i, y_i], eps))`: the probability of the true class is
    floored at `eps` (and nothing else is clipped or renormalised), so one
    confident mistake costs at most `-log(eps)` (27.6 nats for 1e-12).

    Args:
        probs: `(n, classes)` probabilities, or `(n, classes, samples)` or
            `(n, *dims, classes, samples)` (an `MCResult` too), whose mean
            over samples is used.
        y: `(n,)` integer labels from 0; `(n, *dims)` for a dense output.
        ignore: Labels left out: a label value (e.g. a void label 255),
            a list of them, or a boolean array shaped like `y`, True where
            to ignore. None: none.
        eps: Floor on the probability of the true class.

    Returns:
        A float, at least 0.

    Raises:
        TypeError: labels that are not integer class codes (see
            `mcbridge._checks.check_labels`).
        ValueError: the shapes do not match (labels not `(n,)` or
            `(n, *dims)`), a label is out of range, or `ignore` is of
            another shape than `y` or leaves out every label.
    """
    p, y = _mean_probs_and_labels(probs, y, ignore)
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], eps))))


#: Short name of `negative_log_likelihood`.
nll = negative_log_likelihood


def brier_score(probs, y, ignore=None) -> float:
    """Mean over inputs of the summed squared error against one-hot labels.

    Args:
        probs: `(n, classes)` probabilities, or `(n, classes, samples)` or
            `(n, *dims, classes, samples)` (an `MCResult` too), whose mean
            over samples is used.
        y: `(n,)` integer labels from 0; `(n, *dims)` for a dense output.
        ignore: Labels left out: a label value (e.g. a void label 255),
            a list of them, or a boolean array shaped like `y`, True where
            to ignore. None: none.

    Returns:
        A float in `[0, 2]`.

    Raises:
        TypeError: labels that are not integer class codes (see
            `mcbridge._checks.check_labels`).
        ValueError: the shapes do not match (labels not `(n,)` or
            `(n, *dims)`), a label is out of range, or `ignore` is of
            another shape than `y` or leaves out every label.
    """
    p, y = _mean_probs_and_labels(probs, y, ignore)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def calibration_bins(probs, y, n_bins: int = 15, adaptive: bool = False, ignore=None):
    """Top-label confidence and accuracy per bin (the reliability diagram's data).

    Equal-width bins: input `i` with confidence `c_i` (its largest probability)
    falls in bin `min(floor(c_i * n_bins), n_bins - 1)`, so bin `b` is
    `[b / n_bins, (b + 1) / n_bins)` and the last also holds 1. Equal-mass
    bins (`adaptive=True`): inputs are sorted by confidence (stably, by index
    on ties) and the one at rank `r` (from 0) falls in bin
    `floor(r * n_bins / n)`, so bins hold `n / n_bins` inputs, give or take one.
    A dense output's positions count as inputs (see the module).

    Args:
        probs, y, ignore: As `accuracy`.
        n_bins: Number of bins.
        adaptive: False for equal-width bins, True for equal-mass bins.

    Returns:
        A dict of `float64` arrays of shape `(n_bins,)`: `count` (inputs per
        bin), `confidence` and `accuracy` (means per bin, NaN for an empty
        bin), `lower` and `upper` (the bin edges in confidence).

    Raises:
        TypeError, ValueError: invalid `n_bins`, shapes, labels or `ignore`.
    """
    n_bins = positive_int("n_bins", n_bins)
    p, y = _mean_probs_and_labels(probs, y, ignore)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    n = len(y)
    if adaptive:
        order = np.argsort(conf, kind="stable")
        bins = np.empty(n, dtype=np.int64)
        bins[order] = (np.arange(n) * n_bins) // n
    else:
        bins = np.minimum(np.floor(conf * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(bins, weights=conf, minlength=n_bins) / count
        acc = np.bincount(bins, weights=correct, minlength=n_bins) / count
    if adaptive:
        lower = np.array([conf[bins == b].min() if count[b] else np.nan for b in range(n_bins)])
        upper = np.array([conf[bins == b].max() if count[b] else np.nan for b in range(n_bins)])
    else:
        lower = np.arange(n_bins) / n_bins
        upper = np.arange(1, n_bins + 1) / n_bins
    return {"count": count, "confidence": confidence, "accuracy": acc, "lower": lower, "upper": upper}


def expected_calibration_error(
    probs, y, n_bins: int = 15, adaptive: bool = False, norm: str = "l1", ignore=None
) -> float:
    """Top-label calibration error: the gap between confidence and accuracy.

    Inputs are binned by their confidence (largest probability; see
    `calibration_bins` for the exact bins). With `w_b` the fraction of inputs
    in bin `b` and `g_b = |accuracy_b - confidence_b|` (empty bins skipped):
    `norm="l1"` gives the ECE `sum_b w_b g_b`, `"l2"` the RMS calibration
    error `sqrt(sum_b w_b g_b^2)`, and `"max"` the MCE `max_b g_b`, as
    torch-uncertainty's `CalibrationError`.

    Args:
        probs: `(n, classes)` probabilities, or `(n, classes, samples)` or
            `(n, *dims, classes, samples)` (an `MCResult` too), whose mean
            over samples is used.
        y: `(n,)` integer labels from 0; `(n, *dims)` for a dense output.
        ignore: Labels left out: a label value (e.g. a void label 255),
            a list of them, or a boolean array shaped like `y`, True where
            to ignore. None: none.
        n_bins: Number of bins.
        adaptive: False for equal-width bins, True for equal-mass bins
            (adaptive ECE).
        norm: `"l1"`, `"l2"` or `"max"`.

    Returns:
        A float in `[0, 1]`.

    Raises:
        TypeError: `n_bins` is not an integer, `norm` not a string, or the
            labels are not integer class codes.
        ValueError: `n_bins` or `norm` is invalid, or the shapes or labels are.
    """
    check_choice("norm", norm, CALIBRATION_NORMS)
    b = calibration_bins(probs, y, n_bins=n_bins, adaptive=adaptive, ignore=ignore)
    keep = b["count"] > 0
    weight = b["count"][keep] / b["count"].sum()
    gap = np.abs(b["accuracy"][keep] - b["confidence"][keep])
    if norm == "l1":
        return float(np.sum(weight * gap))
    if norm == "l2":
        return float(np.sqrt(np.sum(weight * gap**2)))
    return float(gap.max())
