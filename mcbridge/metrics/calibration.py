"""Calibration of predicted probabilities against labels."""

from __future__ import annotations

import numpy as np

from mcbridge.metrics._common import _mean_probs_and_labels

__all__ = ["nll", "brier_score", "expected_calibration_error"]


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
