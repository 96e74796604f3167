"""Is my uncertainty any good, and which inputs should a person look at?

`evaluate` computes the calibration and detection measures of
`mcbridge.metrics` in one call; `select_uncertain` picks the inputs to look
at (or label) next. NumPy only, like `mcbridge.metrics`.
"""

from __future__ import annotations

import numpy as np

from mcbridge._checks import INT64_MAX, check_int
from mcbridge.metrics import calibration, detection
from mcbridge.metrics._common import _adaptive, _mean_probs_and_labels, _probs, pooled
from mcbridge.metrics.uncertainty import SCORES, uncertainty_score

__all__ = ["evaluate", "select_uncertain"]


def evaluate(result, y, n_bins: int = 15, ignore=None) -> dict[str, float]:
    """All the evaluation measures of an MC classification result, in one dict.

    Args:
        result: An `MCResult`, or `(n, classes, samples)` probabilities (made
            by any tool); a dense output `(n, *dims, classes, samples)` (a
            segmentation) counts every position as one prediction.
        y: `(n,)` integer labels from 0; `(n, *dims)` for a dense output.
        n_bins: Bins of the calibration errors.
        ignore: Positions left out: a label value (a void label such as
            255, or a name such as `"void"`, compared with `y` as given), a
            list of them, or a boolean array shaped like `y`, True where to
            ignore (padding). None: none.

    Returns:
        A dict of floats, in this order: `accuracy`, `nll` (nats), `brier`,
        `ece` (equal-width bins), `adaptive_ece` (equal-mass bins), `aurc`
        (by predictive entropy), and `auroc_<score>`, the misclassification
        AUROC, for each score in `mcbridge.metrics.uncertainty.SCORES`. R's
        `mc_evaluate_uncertainty()` returns the same names and values.

    Raises:
        TypeError: labels that are not integer class codes.
        ValueError: the samples are not probabilities `(n, classes, samples)`
            or `(n, *dims, classes, samples)`, the labels do not match them, or
            `ignore` is of another shape than `y` or leaves out every label.
    """
    samples, y = pooled(result, y, ignore)  # an adaptive result comes back itself: its own counts
    if not _adaptive(samples):
        samples = _probs(samples)
    p, y = _mean_probs_and_labels(samples, y)
    out = {
        "accuracy": calibration.accuracy(p, y),
        "nll": calibration.negative_log_likelihood(p, y),
        "brier": calibration.brier_score(p, y),
        "ece": calibration.expected_calibration_error(p, y, n_bins=n_bins),
        "adaptive_ece": calibration.expected_calibration_error(p, y, n_bins=n_bins, adaptive=True),
        "aurc": detection.aurc(samples, y, "predictive_entropy"),
    }
    wrong = p.argmax(axis=1) != y
    for name in SCORES:
        out[f"auroc_{name}"] = detection.auroc(uncertainty_score(samples, name), wrong)
    return out


def select_uncertain(result, k: int, score: str = "mutual_information") -> np.ndarray:
    """The `k` most uncertain inputs: what to label or look at next.

    With the default score (mutual information) this is BALD's top-k
    acquisition for active learning.

    Args:
        result: An `MCResult`, or `(n, classes, samples)` probabilities.
        k: How many inputs (at most `n`; larger gives all of them).
        score: Name of an uncertainty score in
            `mcbridge.metrics.uncertainty.SCORES`.

    Returns:
        `int64` array of shape `(min(k, n),)`: 0-based indices, most
        uncertain first; equal scores keep the order of the inputs (lower
        index first). R's `mc_select_uncertain()` gives these plus 1.

    Raises:
        TypeError: `k` is not an integer.
        ValueError: `k` is not positive, or `score` is unknown.
    """
    k = check_int("k", k, maximum=INT64_MAX)
    s = uncertainty_score(result, score)
    return np.argsort(-s, kind="stable")[:k].astype(np.int64)
