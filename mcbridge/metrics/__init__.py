"""Uncertainty and calibration measures on MC samples, in pure NumPy.

Every uncertainty function takes an array of class probabilities of shape
`(n, classes, samples)` (or an `MCResult`) and returns a float64 array of
shape `(n,)`. Logarithms are natural (nats) and `0 log 0 = 0`.

Modules by question: `uncertainty` (scores per input, and `SCORES`, the one
registry of scores by name), `calibration` (are the probabilities honest?),
`detection` (does a score flag wrong or unfamiliar inputs?). All names are
re-exported here; `mcbridge.evaluate` computes them all at once.
"""

from mcbridge.metrics.calibration import (
    accuracy,
    brier_score,
    calibration_bins,
    expected_calibration_error,
    negative_log_likelihood,
    nll,
)
from mcbridge.metrics.detection import (
    augrc,
    aurc,
    auroc,
    fpr_at_95_tpr,
    fpr_at_tpr,
    misclassification_auroc,
    ood_auroc,
    risk_coverage,
)
from mcbridge.metrics.regression import crps, gaussian_nll, interval_coverage, rmse
from mcbridge.metrics.uncertainty import (
    SCORES,
    expected_entropy,
    max_probability,
    mutual_information,
    predictive_entropy,
    uncertainty_score,
    variation_ratio,
)

__all__ = [
    "predictive_entropy",
    "expected_entropy",
    "mutual_information",
    "variation_ratio",
    "max_probability",
    "SCORES",
    "uncertainty_score",
    "accuracy",
    "negative_log_likelihood",
    "nll",
    "brier_score",
    "expected_calibration_error",
    "calibration_bins",
    "auroc",
    "fpr_at_tpr",
    "misclassification_auroc",
    "risk_coverage",
    "aurc",
    "augrc",
    "ood_auroc",
    "fpr_at_95_tpr",
    "gaussian_nll",
    "crps",
    "rmse",
    "interval_coverage",
]
