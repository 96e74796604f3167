import numpy as np
import pytest

from mcbridge import MCResult, metrics


def _random_probs(n=5, c=4, s=7, seed=0):
    logits = np.random.default_rng(seed).normal(size=(n, c, s))
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def test_uniform_probabilities_give_log_c():
    c = 5
    p = np.full((3, c, 4), 1 / c)
    np.testing.assert_allclose(metrics.predictive_entropy(p), np.log(c), rtol=1e-12)
    np.testing.assert_allclose(metrics.expected_entropy(p), np.log(c), rtol=1e-12)
    np.testing.assert_allclose(metrics.mutual_information(p), 0, atol=1e-12)


def test_identical_samples_have_zero_mutual_information():
    one = _random_probs(s=1)
    p = np.repeat(one, 9, axis=2)
    np.testing.assert_allclose(metrics.mutual_information(p), 0, atol=1e-7)
    np.testing.assert_array_equal(metrics.variation_ratio(p), 0)


def test_one_hot_and_zero_log_zero():
    p = np.zeros((2, 3, 2))
    p[0, 0, :] = 1  # confident and consistent
    p[1, 0, 0] = p[1, 2, 1] = 1  # confident, disagreeing samples
    np.testing.assert_allclose(metrics.expected_entropy(p), 0)
    np.testing.assert_allclose(metrics.predictive_entropy(p), [0, np.log(2)])
    np.testing.assert_allclose(metrics.mutual_information(p), [0, np.log(2)])
    np.testing.assert_allclose(metrics.variation_ratio(p), [0, 0.5])


def test_closed_forms_and_identity():
    p = _random_probs()
    mean = p.astype(np.float64).mean(axis=2)
    pe = -(mean * np.log(mean)).sum(axis=1)
    ee = -(p * np.log(p.astype(np.float64))).sum(axis=1).mean(axis=1)
    np.testing.assert_allclose(metrics.predictive_entropy(p), pe, rtol=1e-10)
    np.testing.assert_allclose(metrics.expected_entropy(p), ee, rtol=1e-10)
    np.testing.assert_allclose(metrics.mutual_information(p), np.maximum(pe - ee, 0), rtol=1e-10)
    assert np.all(metrics.mutual_information(p) >= 0)
    assert metrics.predictive_entropy(p).shape == (5,)


def test_variation_ratio_counts_modal_votes():
    p = np.zeros((1, 3, 5))
    for s, c in enumerate([2, 2, 1, 2, 0]):
        p[0, c, s] = 1
    np.testing.assert_allclose(metrics.variation_ratio(p), [1 - 3 / 5])


def test_axis_swap_is_caught():
    p = _random_probs(n=4, c=3, s=6)
    swapped = p.transpose(0, 2, 1)  # (n, samples, classes)
    with pytest.raises(ValueError, match=r"transpose it with x.transpose\(0, 2, 1\)"):
        metrics.predictive_entropy(swapped)
    # And the axes mean what they say: entropy over classes, mean over samples.
    q = np.zeros((1, 2, 3))
    q[0, 0, :] = [1.0, 0.5, 0.0]
    q[0, 1, :] = 1 - q[0, 0, :]
    mean = np.array([0.5, 0.5])
    np.testing.assert_allclose(metrics.predictive_entropy(q), [-(mean * np.log(mean)).sum()])


def test_accepts_mcresult():
    p = _random_probs()
    np.testing.assert_array_equal(metrics.mutual_information(MCResult(p)), metrics.mutual_information(p))


@pytest.mark.parametrize(
    "bad,match",
    [(np.zeros((2, 3)), r"\(n, classes, samples\)"), (np.zeros((0, 3, 2)), "non-empty"),
     (np.full((1, 2, 2), 2.0), r"in \[0, 1\]"), (np.full((1, 2, 2), np.nan), r"in \[0, 1\]")],
)
def test_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        metrics.mutual_information(bad)


def test_calibration_metrics():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    y = np.array([0, 1, 1])
    np.testing.assert_allclose(metrics.nll(probs, y), -np.mean(np.log([0.9, 0.8, 0.4])))
    np.testing.assert_allclose(metrics.brier_score(probs, y), np.mean([0.02, 0.08, 0.72]))
    perfect = np.eye(2)[[0, 1, 1]]
    assert metrics.expected_calibration_error(perfect, y) == 0
    assert metrics.expected_calibration_error(probs, y) > 0
    with pytest.raises(ValueError, match="labels in"):
        metrics.nll(probs, np.array([0, 1, 2]))


def test_auroc():
    assert metrics.auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert metrics.auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert metrics.auroc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5
    assert np.isnan(metrics.auroc([0.1, 0.2], [1, 1]))
