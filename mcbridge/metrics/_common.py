"""Validation shared by the metrics: probabilities `(n, classes, samples)` and labels.

Labels follow mcbridge's one rule, `mcbridge._checks.check_labels`.
"""

from __future__ import annotations

import functools
import warnings

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


def _adaptive(result) -> bool:
    return getattr(result, "n_used", None) is not None


def _labels_as_given(y) -> np.ndarray:
    """`y` as an array of the labels as given (names stay names): what `ignore` is compared with."""
    if y is None or isinstance(y, (str, bytes, dict, set)):
        as_numeric_array(y, "y")  # raises the TypeError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(y)
    except (ValueError, TypeError):
        return as_numeric_array(y, "y")  # raises the TypeError for ragged lists and the like


def _dense_shape_error(values: np.ndarray, shape: tuple, targets: bool) -> ValueError:
    lead, k = tuple(shape[:-2]), shape[-2]
    what = "targets" if targets else "labels"
    expected = f"{lead} (n, *dims)" + (f" or {(*lead, k)} (n, *dims, outputs)" if targets else "")
    hint = ""
    if values.size == int(np.prod(lead)) and values.shape != lead:
        hint = f" It holds the right number of {what}: if they are in the positions' C order, pass y.reshape({lead})."
    elif not targets and values.shape == (*lead, k):
        hint = " These look one-hot encoded: pass y.argmax(axis=-1)."
    return ValueError(
        f"Invalid value received for argument `y`. Expected {what} of shape {expected}: one per input and "
        f"position of the dense output (samples of shape {tuple(shape)}). "
        f"Received: y.shape={values.shape}.{hint}"
    )


def _keep(values: np.ndarray, ignore, shape: tuple, targets: bool) -> np.ndarray | None:
    """Which labels to keep (shape `shape`), or None without `ignore`; see `pooled`."""
    if ignore is None:
        return None
    ign = np.asarray(ignore)
    if ign.dtype == bool:
        if ign.shape != shape:
            raise ValueError(
                "Invalid value received for argument `ignore`. Expected a label value or a boolean array "
                f"of shape {shape} (True: ignore). Received: shape={ign.shape}, dtype={ign.dtype}"
            )
        keep = ~ign
    elif targets:
        raise ValueError(
            "Invalid value received for argument `ignore`. Expected a boolean array of shape "
            f"{shape} (True: ignore) for regression targets. Received: {ignore!r}"
        )
    else:
        wanted = ign.reshape(-1)
        by_name = values.dtype.kind in "USO"
        if wanted.size == 0 or (not by_name and wanted.dtype.kind not in "iuf"):
            raise ValueError(
                "Invalid value received for argument `ignore`. Expected a label value of `y` "
                f"({'a class name' if by_name else 'a number'}), several in a list, or a boolean "
                f"array of shape {shape} (True: ignore). Received: ignore={ignore!r}"
            )
        if wanted.dtype.kind == "f" and np.isnan(wanted).any():
            raise ValueError(
                "Invalid value received for argument `ignore`: NaN equals no label. To leave out "
                "NaN labels, pass ignore=np.isnan(y)."
            )
        # compared with the labels as given (R's rule): names with names, numbers with numbers
        keep = ~(np.isin(values.astype(str), wanted.astype(str)) if by_name else np.isin(values, wanted))
    if not keep.any():
        raise ValueError(
            f"Invalid value received for argument `ignore`: it leaves out all {keep.size} labels, "
            "so nothing is left to evaluate."
        )
    return keep


def pooled(probs, y, ignore=None, *, targets: bool = False):
    """Dense outputs as rows: `(n, *dims, classes[, samples])` with labels `(n, *dims)` -> one row per position.

    The one mechanism behind every measure that takes labels (evaluation,
    calibration, detection, temperature scaling, conformal prediction), as
    R's `.pool()`. Returns `(probs, y)`: the positions pooled as rows,
    `(rows, classes, samples)` and `(rows,)` in Fortran order (the input
    index fastest, as R's arrays), leaving out those `ignore` names: label
    values (a void label such as 255 or `"void"`, compared with `y` as given,
    before names become codes) or a boolean array shaped like `y`, True
    where to ignore (padding). Labels come back as codes (names matched to
    the result's `class_names`, `named_codes`), checked later
    (`check_labels`). Flat `(n, classes[, samples])` arrays come back as they
    are, less the ignored rows; an adaptive `MCResult` (flat, no `ignore`)
    comes back itself, so each input keeps its own samples. `y=None` pools
    the samples alone (`(probs, None)`).

    Args:
        probs: An `MCResult` or array `(n, classes[, samples])` or
            `(n, *dims, classes, samples)`.
        y: Labels `(n,)`, or `(n, *dims)` for a dense output; with
            `targets=True`, numeric targets `(n[, *dims])` or
            `(n[, *dims], outputs)`, pooled to `(rows[, outputs])`.
        ignore: None, a label value (or a list of them), or a boolean array
            of `y`'s shape (of `(n, *dims)` for targets; targets take a mask
            only).
        targets: Whether `y` holds regression targets (no class codes).

    Raises:
        ValueError: labels of another shape than `(n, *dims)` for a dense
            output (the message says what to pass), flat labels of another
            length than `n` with `ignore`, an `ignore` mask of another shape
            than `y`, an `ignore` that leaves out every label or is NaN, or
            an adaptive result that is dense or given `ignore`.
    """
    samples = getattr(probs, "samples", probs)
    shape = np.shape(samples)
    lead = tuple(shape[:-2]) if len(shape) > 3 else None
    if _adaptive(probs):
        if lead is not None or ignore is not None:
            raise ValueError(
                "Invalid value received for argument `result`: a result of adaptive sampling (n_used) "
                "is taken for (n, classes, samples) outputs without `ignore`. Predict a dense output with "
                "a fixed n_samples (tolerance=None)."
            )
        p = probs
    else:
        p = np.asarray(samples)
    if y is None:
        if ignore is not None:
            raise ValueError("Invalid value received for argument `ignore`: it needs the labels `y`.")
        return (p if lead is None else p.reshape((-1, *shape[-2:]), order="F")), None
    values = _labels_as_given(y)
    if lead is not None:
        k = shape[-2]
        ok = values.shape == lead or (targets and values.shape == (*lead, k))
        if not ok or (targets and values.shape == lead and k != 1):
            raise _dense_shape_error(values, shape, targets)
    mask_shape = lead if lead is not None else (values.shape[:1] if targets else values.shape)
    keep = _keep(values, ignore, mask_shape, targets)
    if lead is not None:
        p = p.reshape((-1, *shape[-2:]), order="F")
        values = values.reshape((-1, *values.shape[len(lead) :]), order="F")
        keep = None if keep is None else keep.reshape(-1, order="F")
    elif keep is not None and (values.ndim == 0 or len(values) != len(p)):
        raise ValueError(
            f"Invalid value received for argument `y`. Expected {len(p)} labels (shape ({len(p)},)), "
            f"one per input. Received: y.shape={values.shape}"
        )
    if keep is not None and not keep.all():
        p, values = p[keep], values[keep]
    if targets:
        return p, values
    return p, as_numeric_array(named_codes(values, getattr(probs, "class_names", None)), "y")


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


def _mean_probs_and_labels(probs, y, ignore=None) -> tuple[np.ndarray, np.ndarray]:
    """`(n, classes)` mean probabilities and the `int64` `(n,)` labels, both checked.

    Dense outputs `(n, *dims, classes[, samples])` with labels `(n, *dims)`
    count each position as a row, less those `ignore` names (`pooled`).
    """
    names = getattr(probs, "class_names", None)
    probs, y = pooled(probs, y, ignore)
    if _adaptive(probs):  # each input's own samples
        probs = probs.mean
    p = as_numeric_array(getattr(probs, "samples", probs), "probs").astype(np.float64, copy=False)
    if p.ndim == 3:
        p = _probs(p).mean(axis=2, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(
            "Invalid value received for argument `probs`. Expected shape "
            f"(n, classes), (n, classes, samples) or (n, *dims, classes, samples). Received: shape={p.shape}"
        )
    return p, check_labels(y, p.shape[0], p.shape[1], class_names=names)
