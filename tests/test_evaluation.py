"""mcbridge.evaluate and mcbridge.select_uncertain."""

import numpy as np
import pytest

import mcbridge
from mcbridge import metrics
from mcbridge.metrics import uncertainty


def _random(n=150, c=3, s=5, seed=0):
    rng = np.random.default_rng(seed)
    e = np.exp(2 * rng.normal(size=(n, c, s)))
    p = e / e.sum(axis=1, keepdims=True)
    return p, rng.integers(0, c, size=n)


def test_evaluate_keys_and_values():
    p, y = _random()
    out = mcbridge.evaluate(mcbridge.MCResult(p), y)
    assert list(out) == ["accuracy", "nll", "brier", "ece", "adaptive_ece", "aurc",
                         "auroc_predictive_entropy", "auroc_mutual_information",
                         "auroc_variation_ratio", "auroc_max_probability"]  # fmt: skip
    f32 = p.astype(np.float32)  # MCResult stores float32
    assert out["accuracy"] == metrics.accuracy(f32, y)
    assert out["nll"] == pytest.approx(metrics.nll(f32, y), abs=1e-12)
    assert out["brier"] == pytest.approx(metrics.brier_score(f32, y), abs=1e-12)
    assert out["ece"] == pytest.approx(metrics.expected_calibration_error(f32, y), abs=1e-12)
    assert out["adaptive_ece"] == pytest.approx(metrics.expected_calibration_error(f32, y, adaptive=True), abs=1e-12)
    assert out["aurc"] == pytest.approx(metrics.aurc(f32, y), abs=1e-12)
    for name in uncertainty.SCORES:
        assert out[f"auroc_{name}"] == pytest.approx(metrics.misclassification_auroc(f32, y, name), abs=1e-12)


def test_a_new_score_is_one_registry_entry(monkeypatch):
    p, y = _random()
    monkeypatch.setitem(uncertainty.SCORES, "expected_entropy", metrics.expected_entropy)
    out = mcbridge.evaluate(p, y)
    assert out["auroc_expected_entropy"] == pytest.approx(
        metrics.auroc(metrics.expected_entropy(p), p.mean(2).argmax(1) != y))
    idx = mcbridge.select_uncertain(p, 3, score="expected_entropy")
    np.testing.assert_array_equal(idx, np.argsort(-metrics.expected_entropy(p))[:3])


def test_select_uncertain_order_and_ties():
    p, _ = _random()
    mi = metrics.mutual_information(p)
    idx = mcbridge.select_uncertain(p, 10)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, np.argsort(-mi)[:10])
    tied = np.repeat(p[:1], 6, axis=0)
    tied[4] = p[1]
    first = 4 if mi[1] > mi[0] else 0
    assert mcbridge.select_uncertain(tied, 6)[0] == first
    np.testing.assert_array_equal(np.sort(mcbridge.select_uncertain(tied, 6)), np.arange(6))
    assert list(mcbridge.select_uncertain(np.full((4, 2, 1), 0.5), 3, "max_probability")) == [0, 1, 2]
    assert len(mcbridge.select_uncertain(p, 1000)) == len(p)


@pytest.mark.parametrize("k,err", [(0, ValueError), (2.0, TypeError), (True, TypeError)])
def test_select_uncertain_bad_k(k, err):
    with pytest.raises(err, match="`k`"):
        mcbridge.select_uncertain(np.full((4, 2, 1), 0.5), k)


def test_evaluate_pools_the_positions_of_a_dense_output_and_ignores_what_it_is_told():
    rng = np.random.default_rng(0)
    p = rng.random((4, 3, 5, 2, 6)).astype("float32")
    p /= p.sum(axis=-2, keepdims=True)
    y = rng.integers(0, 2, (4, 3, 5))
    dense = mcbridge.evaluate(mcbridge.MCResult(p), y)
    rows = mcbridge.evaluate(p.reshape(-1, 2, 6), y.reshape(-1))  # every position one prediction
    assert dense == pytest.approx(rows, abs=1e-12)
    void = y.copy()
    void[0] = 255  # a void label on the first input
    assert mcbridge.evaluate(p, void, ignore=255) == pytest.approx(mcbridge.evaluate(p[1:], y[1:]), abs=1e-12)
    padding = np.zeros(y.shape, bool)
    padding[:, :, 3:] = True
    assert mcbridge.evaluate(p, y, ignore=padding) == pytest.approx(
        mcbridge.evaluate(p[:, :, :3], y[:, :, :3]), abs=1e-12)
    with pytest.raises(ValueError, match=r"labels of shape \(4, 3, 5\) \(n, \*dims\)"):
        mcbridge.evaluate(p, y[:, :2])
    with pytest.raises(ValueError, match="`ignore`. Expected a label value or a boolean array"):
        mcbridge.evaluate(p, y, ignore=padding[:2])


def test_labels_by_name_are_matched_to_the_class_names_not_their_order():
    rng = np.random.default_rng(3)
    e = np.exp(2 * rng.normal(size=(30, 3, 5)))
    names = ("T-shirt", "Ankle boot", "Bag")  # not alphabetical
    r = mcbridge.MCResult(e / e.sum(axis=1, keepdims=True), class_names=names)
    y = rng.integers(0, 3, 30)
    by_code = mcbridge.evaluate(r, y)
    assert mcbridge.evaluate(r, np.array(names)[y]) == by_code
    pd = pytest.importorskip("pandas")
    assert mcbridge.evaluate(r, pd.Categorical(np.array(names)[y])) == by_code  # alphabetical categories
    assert mcbridge.TemperatureScaler().fit(r, list(np.array(names)[y])).temperature_ == pytest.approx(
        mcbridge.TemperatureScaler().fit(r, y).temperature_)
    with pytest.raises(ValueError, match=r"labels 'Sandal' are not class names"):
        mcbridge.evaluate(r, ["Sandal"] + list(np.array(names)[y[1:]]))
    with pytest.raises(ValueError, match="need the result's class names"):
        mcbridge.evaluate(r.samples, np.array(names)[y])


def test_a_void_label_given_by_name_is_left_out_before_names_become_codes():
    rng = np.random.default_rng(4)
    p = rng.random((3, 4, 2, 5))
    p /= p.sum(axis=-2, keepdims=True)
    names = np.array(["background", "object"])
    r = mcbridge.MCResult(p, class_names=list(names))
    y = rng.integers(0, 2, (3, 4))
    labels = names[y].astype(object)
    labels[:, 0] = "void"
    expected = mcbridge.evaluate(r.samples, y, ignore=labels == "void")
    assert mcbridge.evaluate(r, labels, ignore="void") == expected  # R: compared with y as given
    assert mcbridge.evaluate(r, labels.astype(str), ignore=["void", "unlabelled"]) == expected
