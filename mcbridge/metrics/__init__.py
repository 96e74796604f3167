"""Uncertainty and calibration measures on MC samples, in pure NumPy.

Every uncertainty function takes an array of class probabilities of shape
`(n, classes, samples)` (or an `MCResult`) and returns a float64 array of
shape `(n,)`. Logarithms are natural (nats) and `0 log 0 = 0`.

Modules by question: `uncertainty` (scores per input), `calibration` (are
the probabilities honest?), `detection` (does a score flag wrong or
unfamiliar inputs?). All names are re-exported here.
"""

from mcbridge.metrics.calibration import brier_score, expected_calibration_error, nll
from mcbridge.metrics.detection import auroc
from mcbridge.metrics.regression import crps, gaussian_nll, interval_coverage, rmse
from mcbridge.metrics.uncertainty import (
    expected_entropy,
    mutual_information,
    predictive_entropy,
    variation_ratio,
)

__all__ = [
    "predictive_entropy",
    "expected_entropy",
    "mutual_information",
    "variation_ratio",
    "nll",
    "brier_score",
    "expected_calibration_error",
    "auroc",
    "gaussian_nll",
    "crps",
    "rmse",
    "interval_coverage",
]
