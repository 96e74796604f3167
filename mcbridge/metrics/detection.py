"""Does an uncertainty score separate wrong (or unfamiliar) inputs from the rest?"""

from __future__ import annotations

import numpy as np

__all__ = ["auroc"]


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
