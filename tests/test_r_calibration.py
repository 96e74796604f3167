"""Cross-language: R's temperature scaling and conformal sets equal Python's.

The same samples go to an embedded R (rpy2, `mcbridge.r.assign`, by Arrow);
R computes natively (`mc_temperature_scaling`, `mc_conformal`,
`mc_conformal_interval`) and the results are compared with
`mcbridge.calibration` / `mcbridge.conformal`. Needs R with the R packages
nanoarrow and mcbridge, and rpy2; skips only when R is truly absent (fails
instead with MCBRIDGE_TESTS_REQUIRE_R=true).
"""

import os
import shutil
import subprocess
import warnings

import numpy as np
import pytest

import mcbridge
from mcbridge.calibration import TemperatureScaler
from mcbridge.conformal import ConformalClassifier, ConformalRegressor

REQUIRE_R = os.environ.get("MCBRIDGE_TESTS_REQUIRE_R", "").lower() == "true"


def _r_missing():
    if shutil.which("Rscript") is None:
        return "Rscript not found (run scripts/setup_r.sh)"
    probe = subprocess.run(
        ["Rscript", "-e", 'quit(status = !(requireNamespace("mcbridge", quietly = TRUE) && '
         'requireNamespace("nanoarrow", quietly = TRUE)))'],
        capture_output=True,
    )  # fmt: skip
    if probe.returncode != 0:
        return "R packages mcbridge/nanoarrow not installed (run scripts/setup_r.sh)"
    return None


@pytest.fixture(scope="module")
def r():
    reason = _r_missing()
    if reason is not None:
        if REQUIRE_R:
            pytest.fail(reason)
        pytest.skip(reason)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not REQUIRE_R:
            pytest.importorskip("rpy2.robjects")
        import rpy2.robjects as ro

        import mcbridge.r as mr
    return ro, mr


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n, k, s = 600, 6, 7
    logits = (rng.normal(size=(n, k, 1)) * 2 + rng.normal(size=(n, k, s)) * 0.8).astype(np.float32)
    probs = _softmax(logits.astype(np.float64)).astype(np.float32)
    y = (probs.mean(axis=2).cumsum(axis=1) > rng.uniform(size=(n, 1))).argmax(axis=1)
    return mcbridge.MCResult(np.asfortranarray(probs)), logits, y


def _r_vector(ro, expr):
    return np.array(ro.r(expr), dtype=np.float64)


def test_same_temperature_and_calibrated_samples(r, data):
    ro, mr = r
    res, logits, y = data
    mr.assign("res", res)
    mr.assign("logits", logits)
    mr.assign("y", y.astype(np.int32))
    ro.r("ts <- mcbridge::mc_temperature_scaling(res, y)")
    ro.r("ts_logits <- mcbridge::mc_temperature_scaling(logits, y, from_logits = TRUE)")
    py = TemperatureScaler().fit(res, y)
    py_logits = TemperatureScaler(from_logits=True).fit(logits, y)
    assert abs(ro.r("ts$temperature")[0] - py.temperature_) < 1e-4
    assert abs(ro.r("ts_logits$temperature")[0] - py_logits.temperature_) < 1e-4
    assert ro.r("ts$nll_after")[0] == pytest.approx(py.nll_after_, rel=1e-9)
    # Python stores the calibrated samples as float32, R keeps doubles.
    r_cal = mr.from_r(ro.r("predict(ts, res)$all_samples"))
    np.testing.assert_allclose(r_cal, py.transform(res).samples, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "method,kwargs",
    [("lac", {}), ("aps", {}), ("raps", dict(lam=0.05, k_reg=2)), ("aps", dict(mc_score="average")),
     ("raps", dict(mc_score="average")), ("aps", dict(include_top=False)),
     ("raps", dict(mc_score="average", include_top=False)), ("aps", dict(randomized=True, seed=11)),
     ("raps", dict(randomized=True, seed=2**40 + 5, mc_score="average")),
     ("aps", dict(randomized=True, seed=3, include_top=False))],
)  # fmt: skip
@pytest.mark.parametrize("alpha", [0.1, 0.05])
def test_same_conformal_sets(r, data, method, kwargs, alpha):
    ro, mr = r
    res, _, y = data
    cal, test = slice(0, 300), slice(300, 600)
    mr.assign("res_cal", mcbridge.MCResult(res.samples[cal]))
    mr.assign("res_test", mcbridge.MCResult(res.samples[test]))
    mr.assign("y_cal", y[cal].astype(np.int32))
    def r_value(v):
        return repr(v) if isinstance(v, str) else ("TRUE" if v else "FALSE") if isinstance(v, bool) else str(v)

    args = ", ".join(f"{k} = {r_value(v)}" for k, v in kwargs.items())
    args = args.replace("'", '"')
    ro.r(f'cp <- mcbridge::mc_conformal(res_cal, y_cal, alpha = {alpha}, method = "{method}"'
         f'{", " + args if args else ""})')  # fmt: skip
    ro.r("sets <- predict(cp, res_test)")
    py = ConformalClassifier(method, alpha, **kwargs).fit(res.samples[cal], y[cal])
    assert ro.r("cp$qhat")[0] == py.qhat_  # the same bits: same additions in the same order
    assert list(ro.r("dim(sets)")) == [300, 6] and ro.r("typeof(sets)")[0] == "logical"
    r_sets = _r_vector(ro, "as.integer(t(sets))").reshape(300, 6).astype(bool)
    py_sets = py.predict_sets(res.samples[test])
    np.testing.assert_array_equal(r_sets, py_sets)
    assert 1 < py_sets.sum(axis=1).mean() < 6  # non-trivial sets


def test_same_uniforms_for_the_randomised_score(r):
    ro, _ = r
    from mcbridge.conformal import uniforms

    for seed, stream, n in [(0, 0, 5), (11, 1, 100_000), (2**40 + 5, 0, 1000), (2**53 - 1, 1, 10)]:
        r_u = _r_vector(ro, f"mcbridge:::.cp_uniforms({seed}, {stream}, {n})")
        np.testing.assert_array_equal(r_u, uniforms(seed, stream, n))  # the same bits


def test_same_regression_intervals(r):
    ro, mr = r
    rng = np.random.default_rng(5)
    n = 400
    sigma = rng.uniform(0.2, 2, size=(n, 2, 1))
    samples = (rng.normal(size=(n, 2, 1)) + sigma * rng.normal(size=(n, 2, 12))).astype(np.float32)
    y = samples.mean(axis=2) + sigma[:, :, 0] * rng.normal(size=(n, 2))
    res = mcbridge.MCResult(np.asfortranarray(samples), task="regression")
    mr.assign("res_cal", mcbridge.MCResult(samples[:200], task="regression"))
    mr.assign("res_test", mcbridge.MCResult(samples[200:], task="regression"))
    mr.assign("y_cal", y[:200])
    ro.r("ci <- mcbridge::mc_conformal_interval(res_cal, y_cal, alpha = 0.1)")
    ro.r("out <- predict(ci, res_test)")
    py = ConformalRegressor(alpha=0.1).fit(res.samples[:200], y[:200])
    lo, hi = py.predict_interval(res.samples[200:])
    # Mean and standard deviation are summed in different orders in the two
    # languages (R: var() in C; NumPy: pairwise): agreement to float64 rounding.
    np.testing.assert_allclose(_r_vector(ro, "ci$qhat"), py.qhat_, rtol=1e-10)
    for j in range(2):
        for col, expected in (("lower", lo), ("upper", hi)):
            got = _r_vector(ro, f"out$.pred_{col}_{j + 1}")
            np.testing.assert_allclose(got, expected[:, j], rtol=1e-10, atol=1e-12)
