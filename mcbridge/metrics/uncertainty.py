"""Uncertainty scores of MC classification samples `(n, classes, samples)`, per input.

Each returns a float64 array of shape `(n,)`; logarithms are natural (nats)
and `0 log 0 = 0`.
"""

from __future__ import annotations

import numpy as np

from mcbridge.metrics._common import _probs

__all__ = ["predictive_entropy", "expected_entropy", "mutual_information", "variation_ratio"]


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
