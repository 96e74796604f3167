"""Validation shared by the metrics: probabilities `(n, classes, samples)` and labels.

Labels follow mcbridge's one rule, `mcbridge._checks.check_labels`.
"""

from __future__ import annotations

import numpy as np

from mcbridge._checks import as_numeric_array, check_labels

_SUM_TOL = 1e-3


def _probs(samples) -> np.ndarray:
    """Validate `(n, classes, samples)` probabilities; return them as an array."""
    p = as_numeric_array(getattr(samples, "samples", samples), "samples")
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


def _mean_probs_and_labels(probs, y) -> tuple[np.ndarray, np.ndarray]:
    """`(n, classes)` mean probabilities and the `int64` `(n,)` labels, both checked."""
    p = as_numeric_array(getattr(probs, "samples", probs), "probs").astype(np.float64, copy=False)
    if p.ndim == 3:
        p = _probs(p).mean(axis=2, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(
            "Invalid value received for argument `probs`. Expected shape "
            f"(n, classes) or (n, classes, samples). Received: shape={p.shape}"
        )
    return p, check_labels(y, p.shape[0], p.shape[1])
