"""Validation shared by the metrics: probabilities `(n, classes, samples)` and labels."""

from __future__ import annotations

import numpy as np

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
