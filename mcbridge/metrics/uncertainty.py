"""Uncertainty scores of MC classification samples `(n, classes, samples)`, per input.

Each returns a float64 array of shape `(n,)`, larger meaning more uncertain;
logarithms are natural (nats) and `0 log 0 = 0`.

`SCORES` is the one registry of scores by name: the detection measures,
`mcbridge.evaluate` and `mcbridge.select_uncertain` look scores up there, so
a new score is one entry (a function of `(n, classes, samples)` samples).
"""

from __future__ import annotations

import numpy as np

from collections.abc import Callable

from mcbridge._checks import check_choice
from mcbridge.metrics._common import by_count, _probs

__all__ = [
    "predictive_entropy",
    "expected_entropy",
    "mutual_information",
    "variation_ratio",
    "max_probability",
    "SCORES",
    "uncertainty_score",
]


def _entropy(p: np.ndarray, axis: int) -> np.ndarray:
    p = np.clip(p.astype(np.float64, copy=False), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis=axis)


@by_count
def predictive_entropy(samples) -> np.ndarray:
    """Entropy of the MC mean prediction, `H[mean_s p(y|x, w_s)]`: total uncertainty.

    Returns:
        float64 array of shape `(n,)`, in nats, in `[0, log(classes)]`.
    """
    p = _probs(samples)
    return _entropy(p.mean(axis=2, dtype=np.float64), axis=1)


@by_count
def expected_entropy(samples) -> np.ndarray:
    """Mean over samples of each sample's entropy: aleatoric uncertainty.

    Returns:
        float64 array of shape `(n,)`, in nats.
    """
    p = _probs(samples)
    return _entropy(p, axis=1).mean(axis=1)


@by_count
def mutual_information(samples) -> np.ndarray:
    """BALD: predictive minus expected entropy, clamped at 0: epistemic uncertainty.

    Returns:
        float64 array of shape `(n,)`, in nats; 0 when all samples agree.
    """
    p = _probs(samples)
    pe = _entropy(p.mean(axis=2, dtype=np.float64), axis=1)
    ee = _entropy(p, axis=1).mean(axis=1)
    return np.maximum(pe - ee, 0.0)


@by_count
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


@by_count
def max_probability(samples) -> np.ndarray:
    """`1 - max_c mean_s p(c|x, w_s)`: one minus the top mean probability.

    The "maximum softmax probability" baseline, turned so that larger means
    more uncertain like the other scores.

    Returns:
        float64 array of shape `(n,)`, in `[0, 1 - 1/classes]`.
    """
    p = _probs(samples)
    return 1.0 - p.mean(axis=2, dtype=np.float64).max(axis=1)


#: Uncertainty scores by name (larger = more uncertain). Add an entry to add
#: a score everywhere scores are chosen by name (R mirrors this list).
SCORES: dict[str, Callable[..., np.ndarray]] = {
    "predictive_entropy": predictive_entropy,
    "mutual_information": mutual_information,
    "variation_ratio": variation_ratio,
    "max_probability": max_probability,
}


def uncertainty_score(samples, score: str = "predictive_entropy") -> np.ndarray:
    """The uncertainty score named `score` of each input.

    Args:
        samples: `(n, classes, samples)` probabilities, or an `MCResult`.
        score: A name in `SCORES`: `"predictive_entropy"`,
            `"mutual_information"`, `"variation_ratio"` or `"max_probability"`.

    Returns:
        float64 array of shape `(n,)`; larger means more uncertain.

    Raises:
        TypeError: `score` is not a string.
        ValueError: `score` is not a registered name, or `samples` are not
            probabilities of shape `(n, classes, samples)`.
    """
    check_choice("score", score, tuple(SCORES))
    return np.asarray(SCORES[score](samples), dtype=np.float64)
