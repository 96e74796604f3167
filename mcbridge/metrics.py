"""Uncertainty and calibration measures on MC samples, in pure NumPy.

Every uncertainty function takes an array of class probabilities of shape
`(n, classes, samples)` (or an `MCResult`) and returns a float64 array of
shape `(n,)`. Logarithms are natural (nats) and `0 log 0 = 0`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "predictive_entropy",
    "expected_entropy",
    "mutual_information",
    "variation_ratio",
    "nll",
    "brier_score",
    "expected_calibration_error",
    "auroc",
]

_SUM_TOL = 1e-3


def _probs(samples) -> np.ndarray:
    """Validate `(n, classes, samples)` probabilities; return them as an array."""
    samples = getattr(samples, "samples", samples)
    p = np.asarray(samples)
    if p.ndim != 3:
        raise ValueError(
            "Invalid value received for argument `samples`. Expected an array "
            f"of shape (n, classes, samples). Received: shape={p.shape}"
        )
    if p.size == 0:
        raise ValueError(
            f"Invalid value received for argument `samples`. Expected a "
            f"non-empty array. Received: shape={p.shape}"
        )
    if not np.issubdtype(p.dtype, np.floating):
        p = p.astype(np.float64)
    if not np.all(np.isfinite(p)) or p.min() < -1e-6 or p.max() > 1 + 1e-6:
        raise ValueError(
            "Invalid value received for argument `samples`. Expected "
            "probabilities in [0, 1]. If these are logits, apply a softmax "
            "over the classes axis (axis 1) first."
        )
    sums = p.sum(axis=1, dtype=np.float64)
    if np.max(np.abs(sums - 1)) > _SUM_TOL:
        hint = ""
        if p.shape[2] > 1 and np.max(np.abs(p.sum(axis=2, dtype=np.float64) - 1)) <= _SUM_TOL:
            hint = (
                " They sum to 1 over axis 2: the array looks like "
                "(n, samples, classes); transpose it with x.transpose(0, 2, 1)."
            )
        raise ValueError(
            "Invalid value received for argument `samples`. Expected "
            "probabilities of shape (n, classes, samples) that sum to 1 over "
            f"axis 1 (classes).{hint}"
        )
    return p


def _entropy(p: np.ndarray, axis: int) -> np.ndarray:
    p = np.clip(p.astype(np.float64, copy=False), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis=axis)


def predictive_entropy(samples) -> np.ndarray:
    """Entropy of the MC mean prediction, `H[mean_s p(y|x, w_s)]`: total uncertainty.

    Returns:
        float64 array of shape `(n,)`, in nats, in `[0, log(classes)]`.
    """
    p = _probs(samples)
    return _entropy(p.mean(axis=2, dtype=np.float64), axis=1)


def expected_entropy(samples) -> np.ndarray:
    """Mean over samples of each sample's entropy: aleatoric uncertainty.

    Returns:
        float64 array of shape `(n,)`, in nats.
    """
    p = _probs(samples)
    return _entropy(p, axis=1).mean(axis=1)


def mutual_information(samples) -> np.ndarray:
    """BALD: predictive minus expected entropy, clamped at 0: epistemic uncertainty.

    Returns:
        float64 array of shape `(n,)`, in nats; 0 when all samples agree.
    """
    p = _probs(samples)
    pe = _entropy(p.mean(axis=2, dtype=np.float64), axis=1)
    ee = _entropy(p, axis=1).mean(axis=1)
    return np.maximum(pe - ee, 0.0)


def variation_ratio(samples) -> np.ndarray:
    """`1 - f/S`, where `f` counts samples whose top class is the modal top class.

    Ties in a sample's top class go to the lowest class index.

    Returns:
        float64 array of shape `(n,)`, in `[0, 1 - 1/classes]`.
    """
    p = _probs(samples)
    n, c, s = p.shape
    votes = p.argmax(axis=1)  # (n, samples)
    counts = np.zeros((n, c), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(n), s), votes.ravel()), 1)
    return 1.0 - counts.max(axis=1) / s


def _mean_probs_and_labels(probs, y):
    probs = getattr(probs, "samples", probs)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 3:
        p = _probs(p).mean(axis=2, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(
            "Invalid value received for argument `probs`. Expected shape "
            f"(n, classes) or (n, classes, samples). Received: shape={p.shape}"
        )
    y = np.asarray(y)
    if y.shape != (p.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            "Invalid value received for argument `y`. Expected integer labels "
            f"of shape ({p.shape[0]},). Received: shape={y.shape}, dtype={y.dtype}"
        )
    if y.size and (y.min() < 0 or y.max() >= p.shape[1]):
        raise ValueError(
            f"Invalid value received for argument `y`. Expected labels in "
            f"[0, {p.shape[1] - 1}]. Received: range [{y.min()}, {y.max()}]"
        )
    return p, y


def nll(probs, y, eps: float = 1e-12) -> float:
    """Mean negative log-likelihood of labels `y` (nats).

    Args:
        probs: `(n, classes)` probabilities, or `(n, classes, samples)` (an
            `MCResult` too), whose mean over samples is used.
        y: `(n,)` integer labels.
        eps: Floor on the probability of the true class.
    """
    p, y = _mean_probs_and_labels(probs, y)
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], eps))))


def brier_score(probs, y) -> float:
    """Mean over items of the squared error sum against one-hot labels."""
    p, y = _mean_probs_and_labels(probs, y)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def expected_calibration_error(probs, y, n_bins: int = 15) -> float:
    """ECE: confidence-accuracy gap over `n_bins` equal-width confidence bins."""
    p, y = _mean_probs_and_labels(probs, y)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def auroc(scores, positives) -> float:
    """Area under the ROC curve of `scores` for separating `positives` (ties averaged).

    E.g. `auroc(mutual_information(s), wrong)` asks how well uncertainty
    flags misclassified (or out-of-distribution) items. Returns NaN when one
    class is empty.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    positives = np.asarray(positives, dtype=bool).ravel()
    if scores.shape != positives.shape:
        raise ValueError(
            "Arguments `scores` and `positives` must have the same length. "
            f"Received: {scores.shape[0]} and {positives.shape[0]}"
        )
    n_pos = int(positives.sum())
    n_neg = positives.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size, dtype=np.float64)
    ranks[order] = np.arange(1, scores.size + 1)
    # average ranks of ties
    sorted_scores = scores[order]
    _, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for s0, cnt in zip(start, counts):
        if cnt > 1:
            ranks[order[s0 : s0 + cnt]] = s0 + (cnt + 1) / 2.0
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
