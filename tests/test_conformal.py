"""Split conformal prediction sets and intervals (mcbridge.conformal)."""

import math

import numpy as np
import pytest
from conftest import positions_as_rows as _rows

import mcbridge
from mcbridge.conformal import (
    ConformalClassifier,
    ConformalRegressor,
    conformal_quantile,
    coverage,
    set_size,
)


def known_probabilities(n=3000, k=6, s=5, seed=0, scale=1.5):
    """MC samples whose mean is the true label distribution; labels drawn from it.

    `scale` 1.5: top probabilities mostly 0.3-0.9; 4: many inputs above 0.95.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k, 1)) * scale + rng.normal(size=(n, k, s)) * 0.6
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    y = (p.mean(axis=2).cumsum(axis=1) > rng.uniform(size=(n, 1))).argmax(axis=1)
    return p, y


def mean_coverage(cp_kwargs, alpha, splits=200, n_cal=400, seed=1, scale=1.5, predict_kwargs=None):
    """Mean coverage and set size over random calibration/test splits.

    `predict_kwargs`: settings that differ at prediction time (the threshold
    fitted with `cp_kwargs` applied to scores made with these), to check that
    the coverage test catches a threshold calibrated under another rule.
    """
    p, y = known_probabilities(scale=scale)
    rng = np.random.default_rng(seed)
    covs, sizes = [], []
    for i in range(splits):
        perm = rng.permutation(len(y))
        cal, test = perm[:n_cal], perm[n_cal:]
        cp = ConformalClassifier(alpha=alpha, seed=i, **cp_kwargs).fit(p[cal], y[cal])
        if predict_kwargs:
            other = ConformalClassifier(alpha=alpha, seed=i, **{**cp_kwargs, **predict_kwargs})
            other.qhat_, other.n_classes_ = cp.qhat_, cp.n_classes_
            cp = other
        sets = cp.predict_sets(p[test])
        covs.append(coverage(sets, y[test]))
        sizes.append(set_size(sets).mean())
    return np.mean(covs), np.std(covs) / math.sqrt(splits), np.mean(sizes)


# Each split's coverage has a standard deviation of about 0.016 (calibration
# quantile plus test noise at n_cal = 400), so the mean over 200 splits has
# about 0.0012: "within a point" and "at least 1 - alpha" are checked with
# that noise allowed for (the mean may sit up to 3 standard errors low).
@pytest.mark.parametrize("alpha", [0.1, 0.05])
def test_lac_coverage_is_within_a_point_of_the_target(alpha):
    cov, se, _ = mean_coverage(dict(method="lac"), alpha)
    assert se < 0.002
    assert abs(cov - (1 - alpha)) < 0.01


@pytest.mark.parametrize("method", ["aps", "raps"])
@pytest.mark.parametrize("randomized", [False, True])
@pytest.mark.parametrize("mc_score", ["mean", "average"])
@pytest.mark.parametrize("include_top", [True, False])
def test_aps_and_raps_cover_at_least_the_target(method, randomized, mc_score, include_top):
    alpha = 0.1
    kwargs = dict(method=method, randomized=randomized, mc_score=mc_score, include_top=include_top)
    cov, se, size = mean_coverage(kwargs, alpha)
    assert cov >= 1 - alpha - 3 * se
    assert cov < 1 - alpha + 0.03  # and not trivially (all-class sets)
    assert 1 < size < 6


@pytest.mark.parametrize("method", ["aps", "raps"])
@pytest.mark.parametrize("alpha", [0.1, 0.05])
def test_default_covers_confident_models_at_the_target(method, alpha):
    # Confident inputs (the case where plain APS/RAPS empties sets): the
    # default covers at least 1 - alpha (3 standard errors of the mean over
    # 200 splits, about 0.001) and not more than a point above it, i.e. the
    # top class's inclusion is accounted for in the threshold.
    cov, se, size = mean_coverage(dict(method=method), alpha, scale=4)
    assert se < 0.002
    assert 1 - alpha - 3 * se <= cov < 1 - alpha + 0.01
    assert 1 <= size < 3


def test_the_coverage_check_catches_a_threshold_from_the_other_rule():
    # The same statistic fails when calibration and prediction disagree on
    # the top class: calibrated with it scored 0 but predicted without, the
    # confident inputs' sets empty and coverage falls far below the target;
    # the other way round it overshoots. (What the two tests above guard.)
    cov, se, _ = mean_coverage(dict(method="aps"), 0.1, scale=4, splits=50,
                               predict_kwargs=dict(include_top=False))
    assert cov < 0.9 - 10 * se
    cov, se, _ = mean_coverage(dict(method="aps", include_top=False), 0.1, scale=4, splits=50,
                               predict_kwargs=dict(include_top=True))
    assert cov > 0.9 + 0.02


@pytest.mark.parametrize("method", ["aps", "raps"])
@pytest.mark.parametrize("randomized", [False, True])
@pytest.mark.parametrize("mc_score", ["mean", "average"])
@pytest.mark.parametrize("alpha", [0.1, 0.05, 0.2])
def test_no_empty_sets_the_top_class_is_in_every_set(method, randomized, mc_score, alpha):
    p, y = known_probabilities(scale=4)
    top = p.mean(axis=2).argmax(axis=1)
    confident = p.mean(axis=2).max(axis=1) > 0.95
    assert confident.mean() > 0.2
    cal, test = slice(0, 1500), slice(1500, 3000)
    kwargs = dict(method=method, alpha=alpha, randomized=randomized, mc_score=mc_score, seed=5)
    sets = ConformalClassifier(**kwargs).fit(p[cal], y[cal]).predict_sets(p[test])
    assert set_size(sets).min() >= 1
    assert sets[np.arange(1500), top[test]].all()
    # Plain APS/RAPS (include_top=False) empties the sets of confident inputs:
    # what the default prevents.
    plain = ConformalClassifier(include_top=False, **kwargs).fit(p[cal], y[cal]).predict_sets(p[test])
    empty = set_size(plain) == 0
    if not (method == "raps" and alpha == 0.05 and not randomized):  # (qhat above 1 there)
        assert empty.sum() > 3
    if not randomized:  # the deterministic score's empty sets are all confident inputs'
        assert confident[test][empty].all()


def test_deterministic_aps_is_conservative_against_randomised():
    det = mean_coverage(dict(method="aps"), 0.1, splits=60)
    rnd = mean_coverage(dict(method="aps", randomized=True), 0.1, splits=60)
    assert det[2] > rnd[2]  # larger sets


def test_scores_by_hand():
    p = np.array([[0.5, 0.1, 0.3, 0.1]])[:, :, None]  # ranks: 0, 2, then 1 and 3 (tie: 1 first)
    lac = ConformalClassifier("lac").scores(p)
    np.testing.assert_allclose(lac, [[0.5, 0.9, 0.7, 0.9]])
    aps = ConformalClassifier("aps", include_top=False).scores(p)
    np.testing.assert_allclose(aps, [[0.5, 0.9, 0.8, 1.0]])
    raps = ConformalClassifier("raps", lam=0.1, k_reg=2, include_top=False).scores(p)
    np.testing.assert_allclose(raps, [[0.5, 0.9 + 0.1, 0.8, 1.0 + 0.2]])
    rnd = ConformalClassifier("aps", include_top=False).scores(p, u=np.array([[0.5]]))
    np.testing.assert_allclose(rnd, [[0.25, 0.85, 0.65, 0.95]])
    # The default scores the top class 0 (APS, RAPS; not LAC).
    np.testing.assert_allclose(ConformalClassifier("aps").scores(p), [[0.0, 0.9, 0.8, 1.0]])
    np.testing.assert_allclose(ConformalClassifier("raps", lam=0.1, k_reg=2).scores(p), [[0.0, 1.0, 0.8, 1.2]])
    np.testing.assert_allclose(ConformalClassifier("lac", include_top=True).scores(p), lac)
    # Ties for the top: the lower class.
    tie = np.array([[0.4, 0.4, 0.2]])[:, :, None]
    np.testing.assert_allclose(ConformalClassifier("aps").scores(tie), [[0.0, 0.8, 1.0]])


def test_average_score_uses_the_samples():
    # Two samples that disagree on the top class: the mean ties 0 and 1.
    p = np.array([[[0.8, 0.2], [0.2, 0.8]]])  # (1, classes=2, samples=2)
    mean_aps = ConformalClassifier("aps", include_top=False).scores(p)
    avg_aps = ConformalClassifier("aps", mc_score="average", include_top=False).scores(p)
    np.testing.assert_allclose(mean_aps, [[0.5, 1.0]])
    np.testing.assert_allclose(avg_aps, [[(0.8 + 1.0) / 2, (1.0 + 0.8) / 2]])
    # include_top zeroes the MC mean's top class (class 0 of the tie) in both.
    np.testing.assert_allclose(ConformalClassifier("aps").scores(p), [[0.0, 1.0]])
    np.testing.assert_allclose(ConformalClassifier("aps", mc_score="average").scores(p), [[0.0, 0.9]])
    # LAC is linear in p: the same either way.
    np.testing.assert_allclose(ConformalClassifier("lac", mc_score="average").scores(p),
                               ConformalClassifier("lac").scores(p))  # fmt: skip


def test_quantile_rank():
    s = np.arange(1, 20, dtype=float)  # n = 19: rank ceil(20 * 0.9) = 18
    assert conformal_quantile(s, 0.1) == 18.0
    assert conformal_quantile(np.arange(9.0), 0.05) == math.inf  # needs n >= 19
    # (n + 1)(1 - alpha) exactly an integer despite float rounding
    assert conformal_quantile(np.arange(1, 10, dtype=float), 0.1) == 9.0


def test_sets_threshold_the_scores_and_empty_sets_miss():
    p, y = known_probabilities(n=300)
    p = p.astype(np.float32)  # what an MCResult stores
    cp = ConformalClassifier("lac", alpha=0.2).fit(p, y)
    sets = cp.predict_sets(mcbridge.MCResult(p))
    assert sets.dtype == np.bool_ and sets.shape == (300, 6)
    np.testing.assert_array_equal(sets, 1 - p.astype(np.float64).mean(axis=2) <= cp.qhat_)
    assert cp.n_calibration_ == 300
    assert coverage(np.zeros((2, 3), bool), np.array([0, 1])) == 0.0
    np.testing.assert_array_equal(set_size(np.array([[True, False, True], [False] * 3])), [2, 0])


def test_randomised_sets_are_seeded():
    p, y = known_probabilities(n=500)
    a = ConformalClassifier(randomized=True, seed=3).fit(p[:250], y[:250]).predict_sets(p[250:])
    b = ConformalClassifier(randomized=True, seed=3).fit(p[:250], y[:250]).predict_sets(p[250:])
    c = ConformalClassifier(randomized=True, seed=4).fit(p[:250], y[:250]).predict_sets(p[250:])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_uniforms_of_the_randomised_score():
    from mcbridge.conformal import uniforms

    u = uniforms(7, 0, 100_000)
    assert u.dtype == np.float64 and u.shape == (100_000,)
    assert 0 < u.min() and u.max() < 1
    np.testing.assert_array_equal(uniforms(7, 0, 10), u[:10])  # row i depends on its row only
    assert not np.array_equal(uniforms(7, 1, 10), u[:10])
    assert not np.array_equal(uniforms(8, 0, 10), u[:10])
    assert not np.array_equal(uniforms(7 + 2**32, 0, 10), u[:10])  # the high bits count
    # Uniform and serially independent (fixed seed: the checks cannot fail by chance on a rerun,
    # but would on a generator with a bias or a lag structure of this size).
    srt = np.sort(u)
    ks = max(np.max(np.arange(1, len(u) + 1) / len(u) - srt), np.max(srt - np.arange(len(u)) / len(u)))
    assert ks < 1.63 / np.sqrt(len(u))  # Kolmogorov-Smirnov at the 1% level
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 4 / np.sqrt(len(u))
    # The same bits as R's mcbridge:::.cp_uniforms(7, 0, 3) (test-conformal.R).
    assert [f"{v:.17g}" for v in u[:3]] == ["0.58615640748757869", "0.72254495497327298", "0.33455961581785232"]


def test_bad_input():
    p, y = known_probabilities(n=20)
    with pytest.raises(ValueError, match="Received: method='thr'"):
        ConformalClassifier("thr")
    with pytest.raises(ValueError, match="Received: alpha=1"):
        ConformalClassifier(alpha=1)
    with pytest.raises(TypeError, match="`alpha`"):
        ConformalClassifier(alpha="0.1")
    with pytest.raises(ValueError, match="Received: lam=-1"):
        ConformalClassifier(lam=-1)
    with pytest.raises(TypeError, match="`k_reg`"):
        ConformalClassifier(k_reg=1.5)
    with pytest.raises(ValueError, match="Received: mc_score='max'"):
        ConformalClassifier(mc_score="max")
    with pytest.raises(TypeError, match="`include_top`"):
        ConformalClassifier(include_top=1)
    with pytest.raises(ValueError, match="not fitted"):
        ConformalClassifier().predict_sets(p)
    with pytest.raises(ValueError, match="sum to 1"):
        ConformalClassifier().fit(p * 2 - 0.5, y)
    with pytest.raises(TypeError, match="integer class labels"):
        ConformalClassifier().fit(p, y + 0.5)
    with pytest.raises(ValueError, match="Expected 6 classes"):
        ConformalClassifier().fit(p, y).predict_sets(p[:, :3] / p[:, :3].sum(1, keepdims=True))
    with pytest.raises(ValueError, match="Expected a classification result"):
        ConformalClassifier().fit(mcbridge.MCResult(p, task="regression"), y)
    with pytest.raises(TypeError, match="boolean"):
        coverage(np.ones((2, 2)), np.array([0, 1]))


# --------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------
def heteroscedastic(n, s=20, seed=0):
    """MC samples whose spread is the noise scale of the targets (known)."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(n, 1))
    sigma = rng.uniform(0.1, 2.0, size=(n, 1))
    samples = mu[:, :, None] + sigma[:, :, None] * rng.standard_normal((n, 1, s))
    y = mu[:, 0] + sigma[:, 0] * rng.standard_normal(n)
    return mcbridge.MCResult(samples, task="regression"), y


def test_regression_intervals_cover_and_follow_the_spread():
    res, y = heteroscedastic(20000)
    covs = []
    for i in range(50):
        idx = np.random.default_rng(i).permutation(len(y))
        cal, test = idx[:1000], idx[1000:3000]
        cr = ConformalRegressor(alpha=0.1).fit(res.samples[cal], y[cal])
        lo, hi = cr.predict_interval(res.samples[test])
        covs.append(np.mean((lo[:, 0] <= y[test]) & (y[test] <= hi[:, 0])))
    assert abs(np.mean(covs) - 0.9) < 0.01  # mean of 50 splits: se about 0.0015
    width = (hi - lo)[:, 0]
    std = res.std[test, 0]
    np.testing.assert_allclose(width, 2 * cr.qhat_[0] * (std + 1e-6), rtol=1e-6)
    assert np.corrcoef(width, std)[0, 1] > 0.99


def test_regression_several_outputs_and_zero_spread():
    rng = np.random.default_rng(0)
    samples = np.repeat(rng.normal(size=(100, 2, 1)), 3, axis=2)  # no MC spread
    y = samples[:, :, 0] + rng.normal(size=(100, 2)) * [1.0, 3.0]
    cr = ConformalRegressor(alpha=0.2).fit(samples, y)
    lo, hi = cr.predict_interval(samples)
    assert lo.shape == hi.shape == (100, 2)
    widths = hi - lo
    # One width per output (up to the rounding of a std of identical values, ~1e-17).
    assert (np.ptp(widths, axis=0) / widths.mean(axis=0)).max() < 1e-6
    assert widths[0, 1] > widths[0, 0]
    with pytest.raises(ValueError, match="Received: eps=0"):
        ConformalRegressor(eps=0).fit(samples, y)


def test_regression_bad_input():
    res, y = heteroscedastic(30)
    with pytest.raises(ValueError, match="Expected a regression result"):
        ConformalRegressor().fit(mcbridge.MCResult(np.full((2, 2, 2), 0.5)), y[:2])
    with pytest.raises(ValueError, match="at least 2 MC samples"):
        ConformalRegressor().fit(res.samples[:, :, :1], y)
    with pytest.raises(ValueError, match=r"shape \(30,\)"):
        ConformalRegressor().fit(res, y[:5])
    with pytest.raises(TypeError, match="numeric targets"):
        ConformalRegressor().fit(res, y.astype(str))
    with pytest.raises(ValueError, match="not fitted"):
        ConformalRegressor().predict_interval(res)


def test_notebook_summaries_say_the_promise_and_the_threshold():
    rng = np.random.default_rng(0)
    e = np.exp(2 * rng.normal(size=(40, 3, 4)))
    r = mcbridge.MCResult(e / e.sum(axis=1, keepdims=True))
    clf = mcbridge.ConformalClassifier(alpha=0.1)
    assert "not fitted" in clf._repr_html_()
    html = clf.fit(r, rng.integers(0, 3, 40))._repr_html_()
    assert "90% of true classes" in html and f"{clf.qhat_:.4g}" in html and "40 calibration inputs" in html
    reg = mcbridge.ConformalRegressor(alpha=0.2)
    samples = rng.normal(size=(30, 2, 5))
    html = reg.fit(mcbridge.MCResult(samples, task="regression"), rng.normal(size=(30, 2)))._repr_html_()
    assert "80% of true values" in html and "<script" not in html


# -- dense outputs: (n, *dims, classes, samples) with labels (n, *dims) ------


def _dense(n=20, dims=(3, 4), k=6, s=5, seed=0):
    p, y = known_probabilities(n=n * int(np.prod(dims)), k=k, s=s, seed=seed)
    return p.reshape((n, *dims, k, s), order="F"), y.reshape((n, *dims), order="F")


@pytest.mark.parametrize(
    "kwargs",
    [dict(method="lac"), dict(method="aps"), dict(method="raps", mc_score="average"),
     dict(method="aps", randomized=True, seed=7)],
)  # fmt: skip
def test_dense_calibration_pools_positions_and_sets_keep_the_shape(kwargs):
    p_cal, y_cal = _dense()
    p_test, y_test = _dense(n=10, seed=1)
    dense = ConformalClassifier(alpha=0.1, **kwargs).fit(mcbridge.MCResult(p_cal), y_cal)
    flat = ConformalClassifier(alpha=0.1, **kwargs).fit(_rows(mcbridge.MCResult(p_cal).samples), _rows(y_cal, 0))
    assert dense.qhat_ == flat.qhat_ and dense.n_calibration_ == 240
    sets = dense.predict_sets(p_test)
    assert sets.shape == (10, 3, 4, 6) and sets.dtype == bool
    # the randomised score's uniforms go by pooled row, as R's
    np.testing.assert_array_equal(_rows(sets, 1), flat.predict_sets(_rows(p_test)))
    np.testing.assert_array_equal(_rows(dense.scores(p_test), 1), flat.scores(_rows(p_test)))
    assert set_size(sets).shape == (10, 3, 4)
    assert coverage(sets, y_test) == coverage(_rows(sets, 1), _rows(y_test, 0))


def test_dense_calibration_ignores_by_value_and_by_mask():
    p, y = _dense()
    void = np.zeros(y.shape, bool)
    void[:5] = True
    void[:, 2, 3] = True
    keep = _rows(~void, 0)
    expected = ConformalClassifier(alpha=0.1).fit(_rows(p)[keep], _rows(y, 0)[keep]).qhat_
    assert ConformalClassifier(alpha=0.1).fit(p, y, ignore=void).qhat_ == expected
    assert ConformalClassifier(alpha=0.1).fit(p, np.where(void, 255, y), ignore=255).qhat_ == expected
    sets = ConformalClassifier(alpha=0.1).fit(p, y, ignore=void).predict_sets(p)
    assert coverage(sets, np.where(void, 255, y), ignore=255) == coverage(_rows(sets, 1)[keep], _rows(y, 0)[keep])


def test_dense_label_errors():
    p, y = _dense(n=2)
    cp = ConformalClassifier()
    with pytest.raises(ValueError, match=r"labels of shape \(2, 3, 4\) \(n, \*dims\).*y.shape=\(2, 3\)"):
        cp.fit(p, y[:, :, 0])
    with pytest.raises(ValueError, match=r"pass y.reshape\(\(2, 3, 4\)\)"):
        cp.fit(p, y.ravel())
    with pytest.raises(ValueError, match=r"boolean array of shape \(2, 3, 4\)"):
        cp.fit(p, y, ignore=np.zeros(2, bool))
    with pytest.raises(ValueError, match=r"Expected 6 classes \(as in fit\). Received: 5"):
        cp.fit(p, y).predict_sets(p[..., :5, :] / p[..., :5, :].sum(axis=-2, keepdims=True))


def _dense_regression(n=40, dims=(3, 2), outputs=2, s=10, seed=0):
    rng = np.random.default_rng(seed)
    sigma = rng.uniform(0.2, 2, size=(n, *dims, outputs, 1))
    samples = rng.normal(size=(n, *dims, outputs, 1)) + sigma * rng.normal(size=(n, *dims, outputs, s))
    y = samples.mean(axis=-1) + sigma[..., 0] * rng.normal(size=(n, *dims, outputs))
    return samples, y


def test_dense_regression_pools_positions_and_intervals_keep_the_shape():
    s, y = _dense_regression()
    res = mcbridge.MCResult(s, task="regression")
    dense = ConformalRegressor(alpha=0.1).fit(res, y)
    flat = ConformalRegressor(alpha=0.1).fit(_rows(res.samples), _rows(y, 1))
    # NumPy sums the mean in another order for another memory layout: float64 rounding
    np.testing.assert_allclose(dense.qhat_, flat.qhat_, rtol=1e-12)
    lo, hi = dense.predict_interval(res)
    assert lo.shape == hi.shape == (40, 3, 2, 2)
    flat_lo, flat_hi = flat.predict_interval(_rows(res.samples))
    np.testing.assert_allclose(_rows(lo, 1), flat_lo, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_rows(hi, 1), flat_hi, rtol=1e-12, atol=1e-12)
    one = ConformalRegressor(alpha=0.1).fit(res.samples[..., :1, :], y[..., 0])  # one output: y (n, *dims)
    np.testing.assert_allclose(one.qhat_, dense.qhat_[:1], rtol=1e-12)


def test_dense_regression_ignore_and_errors():
    s, y = _dense_regression()
    pad = np.zeros(y.shape[:-1], bool)
    pad[:, 0] = True
    keep = _rows(~pad, 0)
    expected = ConformalRegressor().fit(_rows(s)[keep], _rows(y, 1)[keep]).qhat_
    np.testing.assert_allclose(ConformalRegressor().fit(s, y, ignore=pad).qhat_, expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"targets of shape \(40, 3, 2\) \(n, \*dims\) or \(40, 3, 2, 2\)"):
        ConformalRegressor().fit(s, y[:, 0])
    with pytest.raises(ValueError, match=r"boolean array of shape \(40, 3, 2\) \(True: ignore\) for regression"):
        ConformalRegressor().fit(s, y, ignore=0.0)
    with pytest.raises(ValueError, match=r"targets of shape \(40, 3, 2\)"):
        ConformalRegressor().fit(s, y[..., 0])  # two outputs need (n, *dims, outputs)
