"""Validation shared by the metrics: probabilities `(n, classes, samples)` and labels.

Labels follow mcbridge's one rule, `mcbridge._checks.check_labels`.
"""

from __future__ import annotations

import functools

import numpy as np

from mcbridge._checks import as_numeric_array, check_labels, named_codes

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


def pooled(probs, y, ignore=None) -> tuple[np.ndarray, np.ndarray]:
    """Dense outputs as rows: `(n, *dims, classes[, samples])` with labels `(n, *dims)` -> one row per position.

    Returns `(probs, y)` with the positions pooled, `(rows, classes[, samples])`
    and `(rows,)` in Fortran order, leaving out those `ignore` names: a label
    value (a void label such as 255) or a boolean array shaped like `y`, True
    where to ignore (padding). Other arrays come back as they are (less the
    ignored rows); their labels are checked later (`check_labels`).

    Raises:
        ValueError: labels of another shape than `(n, *dims)` for a dense
            output, or an `ignore` mask of another shape than `y`.
    """
    p = np.asarray(getattr(probs, "samples", probs))
    arr = as_numeric_array(named_codes(y, getattr(probs, "class_names", None)), "y")
    dense = arr.ndim > 1 and p.ndim >= arr.ndim + 2 and p.shape[: arr.ndim] == arr.shape
    if p.ndim > 3 and not dense:
        raise ValueError(
            "Invalid value received for argument `y`. Expected labels of shape "
            f"{p.shape[:-2]} (n, *dims): one per input and position. Received: y.shape={arr.shape}"
        )
    if ignore is None:
        keep = None
    elif np.isscalar(ignore):
        keep = arr != ignore
    else:
        mask = np.asarray(ignore)
        if mask.shape != arr.shape or mask.dtype != bool:
            raise ValueError(
                "Invalid value received for argument `ignore`. Expected a label value or a "
                f"boolean array of shape {arr.shape} (True: ignore). Received: "
                f"shape={mask.shape}, dtype={mask.dtype}"
            )
        keep = ~mask
    if dense:
        p = p.reshape((-1, *p.shape[arr.ndim :]), order="F")
        arr = arr.reshape(-1, order="F")
        keep = None if keep is None else keep.reshape(-1, order="F")
    if keep is not None and not keep.all():
        p, arr = p[keep], arr[keep]
    return p, arr


def by_count(score):
    """`score(samples)` -> `(n,)` made exact for a result of adaptive sampling (an `MCResult` with `n_used`).

    Each input's score uses its own samples: the result's `_by_count` scores
    the inputs in groups of equal count, `samples[idx, :, :count]`.
    """

    @functools.wraps(score)
    def wrapper(samples, *args, **kwargs):
        if getattr(samples, "n_used", None) is None:
            return score(samples, *args, **kwargs)
        return samples._by_count(lambda values: score(values, *args, **kwargs))

    return wrapper


def _mean_probs_and_labels(probs, y) -> tuple[np.ndarray, np.ndarray]:
    """`(n, classes)` mean probabilities and the `int64` `(n,)` labels, both checked.

    Dense outputs `(n, *dims, classes[, samples])` with labels `(n, *dims)`
    count each position as a row (`pooled`).
    """
    names = getattr(probs, "class_names", None)
    if getattr(probs, "n_used", None) is not None:  # adaptive sampling: each input's own samples
        probs = probs.mean
    p = as_numeric_array(getattr(probs, "samples", probs), "probs").astype(np.float64, copy=False)
    if p.ndim > 3:  # a dense output's samples (n, *dims, classes, samples): positions as rows
        p, y = pooled(p, y)
    if p.ndim == 3:
        p = _probs(p).mean(axis=2, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(
            "Invalid value received for argument `probs`. Expected shape "
            f"(n, classes) or (n, classes, samples). Received: shape={p.shape}"
        )
    return p, check_labels(y, p.shape[0], p.shape[1], class_names=names)
