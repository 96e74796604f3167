"""Temperature scaling of MC samples (mcbridge.calibration)."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import positions_as_rows as _rows

import mcbridge
from mcbridge import calibration, metrics
from mcbridge.calibration import TemperatureScaler, apply_temperature


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def overconfident(factor, n=20000, k=5, s=6, seed=0):
    """Labels drawn from known MC-mean probabilities; samples sharpened by `factor`.

    The calibrated model's sample `s` is `softmax(z + e_s)`; its MC mean is
    the true label distribution. The overconfident model returns the logits
    `factor * (z + e_s)`, so dividing them by `factor` restores the truth.
    """
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k, 1)) * 1.5 + rng.normal(size=(n, k, s)) * 0.7
    truth = _softmax(logits).mean(axis=2)
    y = (truth.cumsum(axis=1) > rng.uniform(size=(n, 1))).argmax(axis=1)
    return factor * logits, y


@pytest.mark.parametrize("factor", [0.5, 2.0, 3.0])
def test_recovers_the_overconfidence_factor(factor):
    logits, y = overconfident(factor)
    t_logits = TemperatureScaler(from_logits=True).fit(logits, y).temperature_
    t_probs = TemperatureScaler().fit(_softmax(logits), y).temperature_
    # Labels are a finite sample from the truth: over seeds the fitted T
    # scatters by about 1.5% at n = 20,000; 5% is over 3 standard deviations.
    assert t_logits == pytest.approx(factor, rel=0.05)
    # From probabilities: log p = logits - logsumexp, a per-sample shift the
    # softmax ignores, so the same temperature up to float rounding.
    assert t_probs == pytest.approx(t_logits, rel=1e-6)


def test_fit_minimises_the_nll_of_the_mc_mean(monkeypatch):
    logits, y = overconfident(2.0, n=3000)
    monkeypatch.setattr(calibration, "_BLOCK_ELEMENTS", 1000)  # several row blocks
    scaler = TemperatureScaler(from_logits=True).fit(logits, y)
    t = scaler.temperature_

    def nll_at(temp):
        return metrics.nll(apply_temperature(logits, temp, from_logits=True), y)

    assert scaler.nll_after_ == pytest.approx(nll_at(t), rel=1e-9)
    assert scaler.nll_before_ == pytest.approx(nll_at(1.0), rel=1e-9)
    for other in (t * 0.98, t * 1.02, 1.0):
        assert nll_at(other) > scaler.nll_after_
    # ... and the MC mean, not the per-sample NLL (which has another optimum).
    per_sample = [np.mean(-np.log(apply_temperature(logits, tt, True)[np.arange(len(y)), y, :]))
                  for tt in (t, t * 1.05)]  # fmt: skip
    assert per_sample[1] < per_sample[0]


def test_transform_keeps_shape_spread_and_names():
    logits, y = overconfident(3.0, n=500, k=4, s=5)
    res = mcbridge.MCResult(_softmax(logits), class_names=list("abcd"))
    scaler = TemperatureScaler().fit(res, y)
    out = scaler.transform(res)
    assert isinstance(out, mcbridge.MCResult)
    assert out.samples.shape == res.samples.shape and out.samples.dtype == np.float32
    assert out.class_names == ("a", "b", "c", "d")
    np.testing.assert_allclose(out.samples.sum(axis=1), 1.0, atol=1e-6)
    # Each sample is softmax(logits / T): the samples still differ.
    expected = _softmax(logits / scaler.temperature_)
    np.testing.assert_allclose(out.samples, expected, atol=2e-6)  # float32 storage
    assert out.mutual_information().mean() > 1e-3
    # Softer (T > 1): each sample keeps its ranking of the classes (the MC
    # mean's may change: averaging after a non-linear map).
    assert scaler.temperature_ > 1
    np.testing.assert_array_equal(out.samples.argmax(axis=1), res.samples.argmax(axis=1))
    assert out.samples.max(axis=1).mean() < res.samples.max(axis=1).mean()
    assert scaler.fit_transform(res, y).samples.tobytes() == out.samples.tobytes()


def test_zero_probabilities_stay_zero():
    p = np.array([[[1.0, 0.5], [0.0, 0.5]]] * 4)  # (4, 2, 2)
    y = np.array([0, 0, 1, 0])
    out = TemperatureScaler().fit(p, y).transform(p)
    assert out.samples[0, 1, 0] == 0 and out.samples[0, 0, 0] == 1


def test_temperature_stays_in_range_for_a_hopeless_model():
    p = np.tile(np.array([[0.99], [0.01]]), (50, 1, 3))  # always sure of class 0
    t = TemperatureScaler().fit(p, np.ones(50, dtype=int)).temperature_
    assert 50 <= t <= 100  # wants T -> infinity; capped at the range's end


def test_bad_input():
    p = np.full((3, 2, 2), 0.5)
    y = np.array([0, 1, 0])
    with pytest.raises(TypeError, match="`from_logits`"):
        TemperatureScaler(from_logits="yes")
    with pytest.raises(ValueError, match="not fitted"):
        TemperatureScaler().transform(p)
    with pytest.raises(TypeError, match="Invalid value received for argument `result`"):
        TemperatureScaler().fit("probs", y)
    with pytest.raises(ValueError, match=r"shape \(n, classes, samples\)"):
        TemperatureScaler().fit(p[0], y)
    with pytest.raises(ValueError, match="from_logits=True"):
        TemperatureScaler().fit(p * 3, y)
    with pytest.raises(ValueError, match="sum to 1"):
        TemperatureScaler().fit(p * 0.5, y)
    with pytest.raises(ValueError, match="finite logits"):
        TemperatureScaler(from_logits=True).fit(p * np.inf, y)
    with pytest.raises(TypeError, match="integer class labels"):
        TemperatureScaler().fit(p, y + 0.5)
    with pytest.raises(ValueError, match=r"labels in 0\.\.1"):
        TemperatureScaler().fit(p, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        TemperatureScaler().fit(p, y[:2])
    with pytest.raises(ValueError, match="task='regression'"):
        TemperatureScaler().fit(mcbridge.MCResult(p, task="regression"), y)
    with pytest.raises(ValueError, match="Received: temperature=0"):
        apply_temperature(p, 0)
    with pytest.raises(TypeError, match="`temperature`"):
        apply_temperature(p, "2")


def test_lazy_exports_and_no_tensorflow():
    assert mcbridge.calibration.TemperatureScaler is TemperatureScaler
    assert mcbridge.TemperatureScaler is TemperatureScaler
    code = (
        "import sys, mcbridge; mcbridge.TemperatureScaler; mcbridge.conformal.ConformalClassifier; "
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- dense outputs: (n, *dims, classes, samples) with labels (n, *dims) ------


def _dense_logits(n=30, dims=(4, 5), k=3, s=4, factor=2.0, seed=0):
    logits, y = overconfident(factor, n=n * int(np.prod(dims)), k=k, s=s, seed=seed)
    # rows -> (n, *dims, ...) in Fortran order, so _rows() gives them back
    return logits.reshape((n, *dims, k, s), order="F"), y.reshape((n, *dims), order="F")


def test_a_dense_output_is_fitted_on_its_pooled_positions_and_keeps_its_shape():
    logits, y = _dense_logits()
    p = _softmax_last2(logits)
    dense = TemperatureScaler().fit(p, y)
    flat = TemperatureScaler().fit(_rows(p), _rows(y, 0))
    assert dense.temperature_ == flat.temperature_ and dense.nll_after_ == flat.nll_after_
    assert dense.temperature_ == pytest.approx(2.0, rel=0.15)
    res = mcbridge.MCResult(p, class_names=["a", "b", "c"])
    out = dense.transform(res)
    assert out.samples.shape == p.shape and list(out.class_names) == ["a", "b", "c"]
    np.testing.assert_array_equal(_rows(out.samples), flat.transform(_rows(res.samples)).samples)
    np.testing.assert_allclose(apply_temperature(p, 2.0), _softmax_last2(logits / 2.0), atol=1e-12)
    t_logits = TemperatureScaler(from_logits=True).fit(logits, y).temperature_
    assert t_logits == TemperatureScaler(from_logits=True).fit(_rows(logits), _rows(y, 0)).temperature_


def _softmax_last2(z):
    e = np.exp(z - z.max(axis=-2, keepdims=True))
    return e / e.sum(axis=-2, keepdims=True)


def test_ignore_by_value_name_and_mask():
    logits, y = _dense_logits(seed=1)
    p = _softmax_last2(logits)
    void = np.zeros(y.shape, bool)
    void[:, 0, :] = True  # a void border row
    keep = _rows(~void, 0)
    expected = TemperatureScaler().fit(_rows(p)[keep], _rows(y, 0)[keep]).temperature_
    assert TemperatureScaler().fit(p, y, ignore=void).temperature_ == expected
    assert TemperatureScaler().fit(p, np.where(void, 255, y), ignore=255).temperature_ == expected
    names = np.array(["road", "car", "sky"])
    res = mcbridge.MCResult(p, class_names=list(names))
    labels = np.where(void, "void", names[y])
    assert TemperatureScaler().fit(res, labels, ignore="void").temperature_ == pytest.approx(
        TemperatureScaler().fit(res.samples, y, ignore=void).temperature_)
    assert TemperatureScaler().fit_transform(p, y, ignore=void).samples.shape == p.shape  # every position


def test_dense_label_errors():
    logits, y = _dense_logits(n=3)
    p = _softmax_last2(logits)
    with pytest.raises(ValueError, match=r"labels of shape \(3, 4, 5\) \(n, \*dims\).*y.shape=\(3, 4\)"):
        TemperatureScaler().fit(p, y[:, :, 0])
    with pytest.raises(ValueError, match=r"one-hot encoded: pass y.argmax\(axis=-1\)"):
        TemperatureScaler().fit(p, np.eye(3)[y])
    with pytest.raises(ValueError, match=r"`ignore`. Expected a label value or a boolean array of shape \(3, 4, 5\)"):
        TemperatureScaler().fit(p, y, ignore=np.zeros(3, bool))
    with pytest.raises(ValueError, match=r"\(n, \*dims, classes, samples\) with at least 2 classes"):
        TemperatureScaler().fit(p[..., :1, :], y)
