"""Does an uncertainty score flag wrong (or unfamiliar) inputs?

Scores are looked up by name in `mcbridge.metrics.uncertainty.SCORES`
(larger = more uncertain): `"predictive_entropy"`, `"mutual_information"`,
`"variation_ratio"`, `"max_probability"`. Results are `(n, classes,
samples)` probabilities or an `MCResult`; labels are integers from 0 (or
class names); the predicted class is the top mean probability (first on
ties). A dense output `(n, *dims, classes, samples)` with labels
`(n, *dims)` counts every input and position as one prediction (positions
pooled in Fortran order, as R), less those `ignore` names
(`mcbridge.metrics._common.pooled`).
"""

from __future__ import annotations

import numpy as np

from mcbridge._checks import as_numeric_array, check_number
from mcbridge.metrics._common import _mean_probs_and_labels, pooled
from mcbridge.metrics.uncertainty import uncertainty_score

__all__ = [
    "auroc",
    "fpr_at_tpr",
    "misclassification_auroc",
    "aurc",
    "augrc",
    "risk_coverage",
    "ood_auroc",
    "fpr_at_95_tpr",
]


def _scores_and_positives(scores, positives):
    scores = as_numeric_array(scores, "scores").astype(np.float64).ravel()
    positives = as_numeric_array(positives, "positives").astype(bool).ravel()
    if scores.shape != positives.shape:
        raise ValueError(
            "Arguments `scores` and `positives` must have the same length. "
            f"Received: {scores.shape[0]} and {positives.shape[0]}"
        )
    return scores, positives


def auroc(scores, positives) -> float:
    """Area under the ROC curve of `scores` for separating `positives` (ties averaged).

    The probability that a random positive scores higher than a random
    negative (ties count half): 0.5 is chance, 1 perfect. E.g.
    `auroc(mutual_information(s), wrong)` asks how well uncertainty flags
    misclassified (or out-of-distribution) items.

    Args:
        scores: `(n,)` scores, larger meaning "more likely positive".
        positives: `(n,)` booleans.

    Returns:
        A float in `[0, 1]`; NaN when either class is empty.
    """
    scores, positives = _scores_and_positives(scores, positives)
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


def fpr_at_tpr(scores, positives, tpr: float = 0.95) -> float:
    """False-positive rate at the highest threshold whose true-positive rate is at least `tpr`.

    Flagging every input with a score of at least `t` catches the positives
    scoring `>= t`; `t` is the `ceil(tpr * n_pos)`-th largest positive score,
    and the result is the fraction of negatives scoring `>= t`.

    Args:
        scores: `(n,)` scores, larger meaning "more likely positive".
        positives: `(n,)` booleans.
        tpr: Target true-positive rate in `(0, 1]`.

    Returns:
        A float in `[0, 1]` (lower is better); NaN when either class is empty.

    Raises:
        TypeError: `tpr` is not a number, or the scores are not numeric.
        ValueError: `tpr` is not in `(0, 1]` or the lengths differ.
    """
    tpr = check_number("tpr", tpr, minimum=0, maximum=1, min_open=True)
    scores, positives = _scores_and_positives(scores, positives)
    pos = np.sort(scores[positives])[::-1]
    neg = scores[~positives]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    k = max(int(np.ceil(tpr * pos.size - 1e-9)), 1)  # 1e-9: 0.95 * 20 is 19, not 19.000...1
    return float(np.mean(neg >= pos[k - 1]))


def _scores_and_wrong(result, y, score, ignore) -> tuple[np.ndarray, np.ndarray]:
    """`(rows,)` scores and whether each row's prediction is wrong, positions pooled (`pooled`)."""
    samples, y = pooled(result, y, ignore)
    p, y = _mean_probs_and_labels(samples, y)
    return uncertainty_score(samples, score), p.argmax(axis=1) != y


def misclassification_auroc(result, y, score: str = "predictive_entropy", ignore=None) -> float:
    """AUROC of an uncertainty score for flagging the wrongly predicted inputs.

    Args:
        result: `(n, classes, samples)` or `(n, *dims, classes, samples)`
            probabilities, or an `MCResult`.
        y: `(n,)` integer labels from 0; `(n, *dims)` for a dense output.
        score: Name of an uncertainty score (see `uncertainty.SCORES`).
        ignore: Labels left out: a label value (a void label such as 255),
            a list of them, or a boolean array shaped like `y`, True where
            to ignore. None: none.

    Returns:
        A float in `[0, 1]` (0.5 is chance); NaN when all predictions are
        right or all are wrong.

    Raises:
        ValueError: unknown `score`, invalid shapes or labels (labels not
            `(n,)` or `(n, *dims)`), or an `ignore` of another shape than
            `y` or that leaves out every label.
    """
    return auroc(*_scores_and_wrong(result, y, score, ignore))


def risk_coverage(result, y, score: str = "predictive_entropy", ignore=None):
    """The risk-coverage curve: keep the `k` least uncertain inputs, for every `k`.

    Inputs are sorted by the score (most certain first). Inputs with tied
    scores cannot be told apart, so each counts as the mean error of its tie
    group (the expected risk over orders of the ties): the curve does not
    depend on the order of the inputs. A dense output's positions count as
    inputs (`n` is then the number of positions kept).

    Args:
        result, y, score, ignore: As `aurc`.

    Returns:
        A dict of `float64` arrays of shape `(n,)`: `coverage` (`k / n`),
        `risk` (errors among the kept `k`, over `k`: selective risk) and
        `generalized_risk` (the same errors over `n`: the joint risk of
        keeping an input and being wrong).
    """
    s, wrong = _scores_and_wrong(result, y, score, ignore)
    wrong = wrong.astype(np.float64)
    order = np.argsort(s, kind="stable")
    s_sorted, w_sorted = s[order], wrong[order]
    _, inverse = np.unique(s_sorted, return_inverse=True)
    group_mean = np.bincount(inverse, weights=w_sorted) / np.bincount(inverse)
    errors = np.cumsum(group_mean[inverse])
    n = s.size
    k = np.arange(1, n + 1, dtype=np.float64)
    return {"coverage": k / n, "risk": errors / k, "generalized_risk": errors / n}


def aurc(result, y, score: str = "predictive_entropy", ignore=None) -> float:
    """Area under the risk-coverage curve (lower is better).

    The mean over `k = 1..n` of the error rate among the `k` least uncertain
    inputs (see `risk_coverage`, which also says how ties count).

    Args:
        result: `(n, classes, samples)` or `(n, *dims, classes, samples)`
            probabilities, or an `MCResult`.
        y: `(n,)` integer labels from 0; `(n, *dims)` for a dense output.
        score: Name of an uncertainty score (see `uncertainty.SCORES`).
        ignore: Labels left out: a label value (a void label such as 255),
            a list of them, or a boolean array shaped like `y`, True where
            to ignore. None: none.

    Returns:
        A float in `[0, 1]`.

    Raises:
        ValueError: unknown `score`, invalid shapes or labels (labels not
            `(n,)` or `(n, *dims)`), or an `ignore` of another shape than
            `y` or that leaves out every label.
    """
    return float(np.mean(risk_coverage(result, y, score, ignore)["risk"]))


def augrc(result, y, score: str = "predictive_entropy", ignore=None) -> float:
    """Area under the generalized risk-coverage curve (Traub et al., 2024; lower is better).

    As `aurc`, but the errors among the `k` kept inputs are divided by `n`
    rather than `k`: the rate of silent failures, which does not blow up at low
    coverage.

    Args:
        result: `(n, classes, samples)` or `(n, *dims, classes, samples)`
            probabilities, or an `MCResult`.
        y: `(n,)` integer labels from 0; `(n, *dims)` for a dense output.
        score: Name of an uncertainty score (see `uncertainty.SCORES`).
        ignore: Labels left out: a label value (a void label such as 255),
            a list of them, or a boolean array shaped like `y`, True where
            to ignore. None: none.

    Returns:
        A float in `[0, 0.5]`.

    Raises:
        ValueError: unknown `score`, invalid shapes or labels (labels not
            `(n,)` or `(n, *dims)`), or an `ignore` of another shape than
            `y` or that leaves out every label.
    """
    return float(np.mean(risk_coverage(result, y, score, ignore)["generalized_risk"]))


def _in_out(result_in, result_out, score):
    s_in = uncertainty_score(pooled(result_in, None)[0], score)
    s_out = uncertainty_score(pooled(result_out, None)[0], score)
    positives = np.concatenate([np.zeros(s_in.size, bool), np.ones(s_out.size, bool)])
    return np.concatenate([s_in, s_out]), positives


def ood_auroc(result_in, result_out, score: str = "predictive_entropy") -> float:
    """AUROC of an uncertainty score for telling unfamiliar inputs from familiar ones.

    Args:
        result_in: Samples `(n, classes, samples)` (or an `MCResult`) of
            in-distribution inputs; a dense output `(n, *dims, classes,
            samples)` counts every position as one input.
        result_out: Samples of out-of-distribution inputs (the positives);
            the same classes, any number of inputs and samples.
        score: Name of an uncertainty score (see `uncertainty.SCORES`).

    Returns:
        A float in `[0, 1]` (0.5 is chance).

    Raises:
        ValueError: unknown `score`, or invalid samples.
    """
    return auroc(*_in_out(result_in, result_out, score))


def fpr_at_95_tpr(result_in, result_out, score: str = "predictive_entropy") -> float:
    """Fraction of familiar inputs flagged when 95% of the unfamiliar ones are (lower is better).

    `fpr_at_tpr` with the out-of-distribution inputs as positives.

    Args:
        result_in: Samples `(n, classes, samples)` (or an `MCResult`) of
            in-distribution inputs; a dense output `(n, *dims, classes,
            samples)` counts every position as one input.
        result_out: Samples of out-of-distribution inputs, the same way.
        score: Name of an uncertainty score (see `uncertainty.SCORES`).

    Returns:
        A float in `[0, 1]`.
    """
    return fpr_at_tpr(*_in_out(result_in, result_out, score), tpr=0.95)
