"""mcbridge.metrics.calibration against hand-computed values and scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss

from mcbridge import MCResult, metrics

# 5 inputs, 3 classes: confidences 0.4, 0.45 | 0.6, 0.8, 0.9 (2 equal-width bins).
P = np.array([
    [0.4, 0.3, 0.3],     # y=0 right
    [0.45, 0.35, 0.2],   # y=1 wrong
    [0.6, 0.2, 0.2],     # y=0 right
    [0.1, 0.8, 0.1],     # y=0 wrong
    [0.05, 0.05, 0.9],   # y=2 right
])  # fmt: skip
Y = np.array([0, 1, 0, 0, 2])


def _random(n=200, c=4, s=6, seed=0):
    rng = np.random.default_rng(seed)
    e = np.exp(2 * rng.normal(size=(n, c, s)))
    p = e / e.sum(axis=1, keepdims=True)
    return p, rng.integers(0, c, size=n)


def test_ece_by_hand():
    # bin [0, .5): acc 1/2, conf .425; bin [.5, 1]: acc 2/3, conf 2.3/3.
    gaps, weights = np.array([0.075, 0.1]), np.array([0.4, 0.6])
    assert metrics.expected_calibration_error(P, Y, n_bins=2) == pytest.approx(0.09, abs=1e-12)
    assert metrics.expected_calibration_error(P, Y, n_bins=2, norm="max") == pytest.approx(0.1, abs=1e-12)
    assert metrics.expected_calibration_error(P, Y, n_bins=2, norm="l2") == pytest.approx(
        np.sqrt(np.sum(weights * gaps**2)), abs=1e-12
    )


def test_adaptive_ece_by_hand():
    # equal mass, ranks 0..4 -> bins 0,0,0,1,1: {.4 r, .45 w, .6 r} and {.8 w, .9 r}
    expected = 0.6 * abs(2 / 3 - 1.45 / 3) + 0.4 * abs(0.5 - 0.85)
    assert metrics.expected_calibration_error(P, Y, n_bins=2, adaptive=True) == pytest.approx(expected, abs=1e-12)
    bins = metrics.calibration_bins(P, Y, n_bins=2, adaptive=True)
    np.testing.assert_array_equal(bins["count"], [3, 2])


def test_ece_of_a_calibrated_model_is_small_and_top_bin_holds_one():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(3), size=20000)
    y = np.array([rng.choice(3, p=row) for row in p])  # labels drawn from the probabilities
    assert metrics.expected_calibration_error(p, y) < 0.02
    one = np.array([[1.0, 0.0]])
    assert metrics.calibration_bins(one, [0], n_bins=4)["count"][-1] == 1


def test_mean_of_samples_is_used():
    p, y = _random()
    mean = p.mean(axis=2)
    for f in (metrics.accuracy, metrics.nll, metrics.brier_score, metrics.expected_calibration_error):
        assert f(p, y) == pytest.approx(f(mean, y), abs=1e-12)
        assert f(MCResult(p), y) == pytest.approx(f(p.astype(np.float32), y), abs=1e-12)


def test_against_scikit_learn():
    p, y = _random()
    mean = p.mean(axis=2)
    assert metrics.negative_log_likelihood(p, y) == pytest.approx(log_loss(y, mean, labels=range(4)), rel=1e-10)
    assert metrics.nll is metrics.negative_log_likelihood
    assert metrics.accuracy(p, y) == accuracy_score(y, mean.argmax(1))
    onehot = np.eye(4)[y]
    assert metrics.brier_score(p, y) == pytest.approx(np.mean(np.sum((mean - onehot) ** 2, 1)), rel=1e-12)


def test_nll_floor_and_brier_range():
    p = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert metrics.nll(p, [1, 1]) == pytest.approx(-np.log(1e-12) / 2)
    assert metrics.brier_score(p, [1, 0]) == 2.0
    assert metrics.brier_score(p, [0, 1]) == 0.0


@pytest.mark.parametrize(
    "kwargs,err,match",
    [({"norm": "l3"}, ValueError, "`norm`"), ({"n_bins": 0}, ValueError, "n_bins=0"),
     ({"n_bins": 2.5}, TypeError, "`n_bins`")],
)  # fmt: skip
def test_bad_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        metrics.expected_calibration_error(P, Y, **kwargs)


def test_bad_labels():
    with pytest.raises(ValueError, match=r"labels in 0\.\.2"):
        metrics.accuracy(P, [0, 1, 2, 3, 0])
    with pytest.raises(ValueError, match="shape"):
        metrics.brier_score(P, [0, 1])
