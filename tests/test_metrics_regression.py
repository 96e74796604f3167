"""Regression metrics against independent computations, and R's versions to 1e-6."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mcbridge import MCResult
from mcbridge.metrics import crps, gaussian_nll, interval_coverage, rmse
from mcbridge.metrics.regression import VAR_FLOOR


def cube(n=7, outputs=2, m=9, seed=0):
    return np.random.default_rng(seed).normal(3.0, 2.0, size=(n, outputs, m))


def crps_brute(s, y):
    """O(S^2) energy form, one item and output at a time."""
    vals = []
    for i in range(s.shape[0]):
        for j in range(s.shape[1]):
            x = s[i, j]
            vals.append(np.mean(np.abs(x - y[i, j])) - 0.5 * np.mean(np.abs(x[:, None] - x[None, :])))
    return float(np.mean(vals))


def crps_integral(x, y):
    """CRPS of the empirical CDF as the integral of (F(t) - 1{t >= y})^2, piecewise exact."""
    pts = np.sort(np.append(x, y))
    total = 0.0
    for a, b in zip(pts[:-1], pts[1:]):
        f = np.mean(x <= a)
        total += (f - float(a >= y)) ** 2 * (b - a)
    return total


def test_crps_matches_brute_force_and_the_integral_definition():
    s = cube()
    y = np.random.default_rng(1).normal(3.0, 2.0, size=(7, 2))
    assert crps(s, y) == pytest.approx(crps_brute(s, y), rel=1e-12)
    x = np.array([0.3, -1.2, 2.5, 2.5, 0.0])
    assert crps(x[None, None], [[0.7]]) == pytest.approx(crps_integral(x, 0.7), rel=1e-12)
    # One sample: the absolute error; an MCResult and 1-d targets work too.
    assert crps(np.array([[[1.0]], [[5.0]]]), np.array([0.0, 6.0])) == pytest.approx(1.0)
    res = MCResult(s.astype(np.float32), task="regression")
    assert crps(res, y) == pytest.approx(crps_brute(res.samples.astype(np.float64), y), rel=1e-10)


def test_crps_of_many_gaussian_samples_approaches_the_closed_form():
    # Gneiting & Raftery (2007): CRPS(N(mu, s^2), y) = s (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)).
    from math import erf, exp, pi, sqrt

    mu, sd, y = 1.0, 2.0, 2.5
    z = (y - mu) / sd
    exact = sd * (z * erf(z / sqrt(2)) + 2 * exp(-z * z / 2) / sqrt(2 * pi) - 1 / sqrt(pi))
    draws = np.random.default_rng(2).normal(mu, sd, size=(1, 1, 200_000))
    assert crps(draws, [[y]]) == pytest.approx(exact, abs=0.01)  # Monte Carlo error ~ 2e-3


def test_gaussian_nll_matches_the_normal_log_density():
    rng = np.random.default_rng(3)
    mu, var, y = rng.normal(size=(5, 2)), rng.uniform(0.5, 2.0, size=(5, 2)), rng.normal(size=(5, 2))
    expected = np.mean(0.5 * np.log(2 * np.pi * var) + (y - mu) ** 2 / (2 * var))
    assert gaussian_nll(mu, var, y) == pytest.approx(expected, rel=1e-12)
    try:
        from scipy import stats
    except ImportError:
        pass
    else:
        assert gaussian_nll(mu, var, y) == pytest.approx(-stats.norm.logpdf(y, mu, np.sqrt(var)).mean(), rel=1e-12)
    s = cube()
    res = MCResult(s, task="regression")
    y = np.zeros((7, 2))
    s32 = res.samples.astype(np.float64)
    assert gaussian_nll(res, y) == pytest.approx(
        gaussian_nll(s32.mean(axis=2), s32.var(axis=2, ddof=1), y), rel=1e-12)  # fmt: skip
    # The floor: a zero variance gives a finite value.
    assert gaussian_nll([0.0], [0.0], [0.0]) == pytest.approx(0.5 * np.log(2 * np.pi * VAR_FLOOR))
    assert gaussian_nll([0.0], [0.0], [0.0], var_floor=1.0) == pytest.approx(0.5 * np.log(2 * np.pi))


def test_rmse_and_interval_coverage():
    s = cube()
    y = np.random.default_rng(4).normal(3.0, 2.5, size=(7, 2))
    assert rmse(s.mean(axis=2), y) == pytest.approx(np.sqrt(np.mean((s.mean(axis=2) - y) ** 2)))
    assert rmse(MCResult(s, task="regression"), y) == pytest.approx(rmse(s.astype(np.float32).mean(axis=2), y))
    assert rmse([1.0, 2.0], [2.0, 4.0]) == pytest.approx(np.sqrt(2.5))
    for level in (0.5, 0.8, 0.9):
        lo = np.percentile(s, 100 * (1 - level) / 2, axis=2)
        hi = np.percentile(s, 100 * (1 + level) / 2, axis=2)
        assert interval_coverage(s, y, level) == np.mean((lo <= y) & (y <= hi))
    # Calibrated samples cover about `level` of fresh targets.
    rng = np.random.default_rng(5)
    draws = rng.normal(size=(4000, 1, 200))
    assert interval_coverage(draws, rng.normal(size=4000), 0.9) == pytest.approx(0.9, abs=0.02)
    # Ends count as inside.
    assert interval_coverage(np.ones((1, 1, 3)), [1.0]) == 1.0


def test_regression_metrics_check_their_arguments():
    s = cube()
    y = np.zeros((7, 2))
    with pytest.raises(ValueError, match=r"Expected targets of shape \(7, 2\)"):
        crps(s, np.zeros((7, 3)))
    with pytest.raises(ValueError, match="3-d"):
        crps(s[:, :, 0], y)
    with pytest.raises(ValueError, match="NaN"):
        crps(np.full((1, 1, 2), np.nan), [[0.0]])
    with pytest.raises(ValueError, match="Received: level=1"):
        interval_coverage(s, y, level=1)
    with pytest.raises(ValueError, match="task='regression'"):
        crps(MCResult(np.full((1, 2, 2), 0.5)), [[0.0, 0.0]])
    with pytest.raises(ValueError, match="at least 2 samples"):
        gaussian_nll(MCResult(s[:, :, :1], task="regression"), y)
    with pytest.raises(ValueError, match="variances must be >= 0"):
        gaussian_nll([1.0], [-1.0], [1.0])
    with pytest.raises(ValueError, match="same shape"):
        gaussian_nll([1.0, 2.0], [1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="var_floor"):
        gaussian_nll([1.0], [1.0], [1.0], var_floor=0)
    with pytest.raises(TypeError, match="needs `mean`, `var` and `y`"):
        gaussian_nll([1.0], [1.0])


# --------------------------------------------------------------------------
# R's native versions give the same numbers (Rscript subprocess, JSON in and out)

REQUIRE_R = os.environ.get("MCBRIDGE_TESTS_REQUIRE_R", "").lower() == "true"


def _r_reason():
    if shutil.which("Rscript") is None:
        return "Rscript not found (run scripts/setup_r.sh)"
    probe = subprocess.run(
        ["Rscript", "-e", 'quit(status = !(requireNamespace("mcbridge", quietly = TRUE) && '
         'requireNamespace("jsonlite", quietly = TRUE) && '
         '"mc_crps" %in% getNamespaceExports("mcbridge")))'],
        capture_output=True,
    )  # fmt: skip
    if probe.returncode != 0:
        return "R package mcbridge (with mc_crps) or jsonlite not installed (run scripts/setup_r.sh)"
    return None


R_CODE = r"""
args <- commandArgs(trailingOnly = TRUE)
d <- jsonlite::fromJSON(args[1])
s <- array(d$samples, d$dim)
y <- matrix(d$y, d$dim[1], d$dim[2])
mu <- matrix(d$mean, d$dim[1], d$dim[2])
v <- matrix(d$var, d$dim[1], d$dim[2])
out <- list(
  crps = mcbridge::mc_crps(s, y),
  nll_samples = mcbridge::mc_gaussian_nll(s, y = y),
  nll_moments = mcbridge::mc_gaussian_nll(mu, v, y),
  nll_floor = mcbridge::mc_gaussian_nll(mu, v * 0, y, var_floor = 0.01),
  rmse = mcbridge::mc_rmse(s, y),
  coverage_90 = mcbridge::mc_interval_coverage(s, y),
  coverage_50 = mcbridge::mc_interval_coverage(s, y, level = 0.5)
)
cat(jsonlite::toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def test_r_and_python_regression_metrics_agree(tmp_path):
    reason = _r_reason()
    if reason is not None:
        if REQUIRE_R:
            pytest.fail(reason)
        pytest.skip(reason)
    rng = np.random.default_rng(6)
    s = rng.normal(10.0, 3.0, size=(20, 3, 15))
    y = rng.normal(10.0, 4.0, size=(20, 3))
    mu, var = rng.normal(10.0, 1.0, size=(20, 3)), rng.uniform(1.0, 9.0, size=(20, 3))
    payload = {
        "samples": s.ravel(order="F").tolist(), "dim": list(s.shape),
        "y": y.ravel(order="F").tolist(), "mean": mu.ravel(order="F").tolist(),
        "var": var.ravel(order="F").tolist(),
    }  # fmt: skip
    (tmp_path / "in.json").write_text(json.dumps(payload))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "RETICULATE_PYTHON")}
    env["MCBRIDGE_PYTHON"] = sys.executable
    proc = subprocess.run(["Rscript", "-e", R_CODE, str(tmp_path / "in.json")],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    py = {
        "crps": crps(s, y),
        # (An MCResult would round the samples to float32: moments of the float64 cube.)
        "nll_samples": gaussian_nll(s.mean(axis=2), s.var(axis=2, ddof=1), y),
        "nll_moments": gaussian_nll(mu, var, y),
        "nll_floor": gaussian_nll(mu, var * 0, y, var_floor=0.01),
        "rmse": rmse(s.mean(axis=2), y),
        "coverage_90": interval_coverage(s, y),
        "coverage_50": interval_coverage(s, y, level=0.5),
    }
    assert 0 < py["coverage_50"] < py["coverage_90"] < 1  # the intervals cut through the targets
    for key, value in py.items():
        assert r[key] == pytest.approx(value, abs=1e-6), key


def test_a_predicted_noise_variance_enters_the_nll_and_is_not_silently_ignored():
    # A heteroscedastic result carries `noise_variance` (n, outputs, samples);
    # a stand-in object keeps this test independent of how MCResult builds one.
    from types import SimpleNamespace

    s = cube()
    noise = np.full(s.shape, 0.5)
    res = SimpleNamespace(samples=s, task="regression", noise_variance=noise)
    y = np.zeros((7, 2))
    expected = gaussian_nll(s.mean(axis=2), s.var(axis=2, ddof=1) + 0.5, y)
    assert gaussian_nll(res, y) == pytest.approx(expected, rel=1e-12)
    one = SimpleNamespace(samples=s[:, :, :1], task="regression", noise_variance=noise[:, :, :1])
    assert gaussian_nll(one, y) == pytest.approx(gaussian_nll(s[:, :, 0], np.full((7, 2), 0.5), y))
    for fn in (crps, interval_coverage):
        with pytest.raises(ValueError, match="noise_variance"):
            fn(res, y)
