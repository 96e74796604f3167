"""mcbridge.metrics.calibration against hand-computed values and scikit-learn."""

import numpy as np
import pytest
from conftest import dense_probabilities
from conftest import positions_as_rows as _rows
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


# -- dense outputs: (n, *dims, classes, samples) with labels (n, *dims) ------


_dense = dense_probabilities


CALIBRATION = [
    ("accuracy", {}), ("nll", {}), ("brier_score", {}), ("expected_calibration_error", {}),
    ("expected_calibration_error", {"adaptive": True, "n_bins": 7}), ("expected_calibration_error", {"norm": "max"}),
]  # fmt: skip


@pytest.mark.parametrize("name,kwargs", CALIBRATION)
def test_a_dense_output_pools_its_positions_as_rows(name, kwargs):
    p, y = _dense()
    f = getattr(metrics, name)
    flat = f(_rows(p), _rows(y, 0), **kwargs)
    assert f(p, y, **kwargs) == flat  # the same rows in the same order: the same bits
    assert f(MCResult(p.astype(np.float32)), y, **kwargs) == pytest.approx(flat, abs=1e-6)
    bins = metrics.calibration_bins(p, y, n_bins=5)
    np.testing.assert_array_equal(bins["count"], metrics.calibration_bins(_rows(p), _rows(y, 0), n_bins=5)["count"])


@pytest.mark.parametrize("name,kwargs", CALIBRATION)
def test_ignore_by_value_by_list_and_by_mask(name, kwargs):
    p, y = _dense()
    f = getattr(metrics, name)
    void = y.copy()
    void[1, 2, :] = 255
    void[3, 0, 1] = 254
    keep = (void != 255) & (void != 254)
    expected = f(_rows(p)[_rows(keep, 0)], _rows(y, 0)[_rows(keep, 0)], **kwargs)
    assert f(p, void, ignore=[255, 254], **kwargs) == expected
    assert f(p, np.where(keep, y, 255), ignore=255, **kwargs) == expected
    assert f(p, y, ignore=~keep, **kwargs) == expected
    flat_void = _rows(void, 0)
    assert f(_rows(p), flat_void, ignore=[254, 255], **kwargs) == expected  # flat outputs too


def test_ignore_compares_names_with_labels_as_given():
    names = ("road", "car", "sky")
    p, y = _dense()
    res = MCResult(p, class_names=names)
    labels = np.array(names, dtype=object)[y]
    labels[0] = "void"  # not a class name: left out before names become codes
    assert metrics.accuracy(res, labels, ignore="void") == metrics.accuracy(res.samples[1:], y[1:])
    brier = metrics.brier_score(res.samples[1:], y[1:])
    assert metrics.brier_score(res, labels.astype(str), ignore=["void"]) == brier
    with pytest.raises(ValueError, match=r"labels 'void' are not class names"):
        metrics.accuracy(res, labels)


def test_dense_label_and_ignore_errors_say_what_to_do():
    p, y = _dense()
    with pytest.raises(ValueError, match=r"labels of shape \(4, 3, 5\) \(n, \*dims\).*y.shape=\(4, 3\)"):
        metrics.accuracy(p, y[:, :, 0])
    with pytest.raises(ValueError, match=r"right number of labels.*pass y.reshape\(\(4, 3, 5\)\)"):
        metrics.nll(p, y.reshape(-1))
    with pytest.raises(ValueError, match=r"one-hot encoded: pass y.argmax\(axis=-1\)"):
        metrics.brier_score(p, np.eye(3)[y])
    with pytest.raises(ValueError, match=r"boolean array of shape \(4, 3, 5\).*Received: shape=\(4, 3\)"):
        metrics.accuracy(p, y, ignore=np.zeros((4, 3), bool))
    with pytest.raises(ValueError, match="leaves out all 60 labels"):
        metrics.accuracy(p, y, ignore=np.ones(y.shape, bool))
    with pytest.raises(ValueError, match=r"NaN equals no label.*ignore=np.isnan\(y\)"):
        metrics.accuracy(p, y.astype(float), ignore=np.nan)
    with pytest.raises(ValueError, match=r"label value of `y` \(a number\)"):
        metrics.accuracy(p, y, ignore="void")
    with pytest.raises(ValueError, match=r"Expected 5 labels"):
        metrics.accuracy(P, Y[:4], ignore=255)
