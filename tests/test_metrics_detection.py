"""mcbridge.metrics.detection against scikit-learn and direct computations."""

import functools

import numpy as np
import pytest
from conftest import dense_probabilities
from conftest import positions_as_rows as _rows
from sklearn.metrics import roc_auc_score, roc_curve

from mcbridge import MCResult, metrics
from mcbridge.metrics import uncertainty


def _random(n=300, c=4, s=8, seed=0):
    rng = np.random.default_rng(seed)
    e = np.exp(2 * rng.normal(size=(n, c, s)))
    p = e / e.sum(axis=1, keepdims=True)
    return p, rng.integers(0, c, size=n)


def test_max_probability_and_registry():
    p, _ = _random()
    np.testing.assert_allclose(metrics.max_probability(p), 1 - p.mean(axis=2).max(axis=1), rtol=1e-12)
    assert list(metrics.SCORES) == ["predictive_entropy", "mutual_information", "variation_ratio",
                                    "max_probability"]  # fmt: skip
    for name, f in metrics.SCORES.items():
        np.testing.assert_array_equal(metrics.uncertainty_score(p, name), f(p))
    with pytest.raises(ValueError, match="Expected one of 'predictive_entropy'"):
        metrics.uncertainty_score(p, "entropy")
    with pytest.raises(TypeError, match="`score`"):
        metrics.uncertainty_score(p, 3)


@pytest.mark.parametrize("score", list(uncertainty.SCORES))
def test_misclassification_auroc_matches_scikit_learn(score):
    p, y = _random()
    wrong = p.mean(axis=2).argmax(axis=1) != y
    expected = roc_auc_score(wrong, metrics.SCORES[score](p))
    assert metrics.misclassification_auroc(p, y, score=score) == pytest.approx(expected, abs=1e-12)
    assert metrics.misclassification_auroc(MCResult(p), y, score=score) == pytest.approx(expected, abs=1e-6)


def test_ood_auroc_and_fpr95_match_scikit_learn():
    p_in, _ = _random(seed=1)
    p_out, _ = _random(n=120, seed=2)
    p_out = 0.5 * p_out + 0.5 / 4  # flatter: more uncertain
    for score in uncertainty.SCORES:
        s = np.concatenate([metrics.SCORES[score](p_in), metrics.SCORES[score](p_out)])
        is_out = np.r_[np.zeros(300), np.ones(120)]
        assert metrics.ood_auroc(p_in, p_out, score) == pytest.approx(roc_auc_score(is_out, s), abs=1e-12)
        fpr, tpr, _ = roc_curve(is_out, s, drop_intermediate=False)
        assert metrics.fpr_at_95_tpr(p_in, p_out, score) == pytest.approx(fpr[np.argmax(tpr >= 0.95)], abs=1e-12)


def test_fpr_at_tpr_by_hand():
    pos = np.arange(1, 21, dtype=float)  # 19 of 20 positives are >= 2
    neg = np.array([0.0, 1.5, 2.0, 3.0])
    scores = np.r_[pos, neg]
    positives = np.r_[np.ones(20, bool), np.zeros(4, bool)]
    assert metrics.fpr_at_tpr(scores, positives, 0.95) == 0.5  # 2.0 and 3.0 flagged
    assert metrics.fpr_at_tpr(scores, positives, 1.0) == 0.75
    assert np.isnan(metrics.fpr_at_tpr(pos, np.ones(20, bool)))
    with pytest.raises(ValueError, match="tpr=0"):
        metrics.fpr_at_tpr(scores, positives, 0)


def _aurc_direct(score, wrong, generalized=False):
    # Distinct scores: sort, cumulative error rate, mean over coverages.
    order = np.argsort(score)
    errors = np.cumsum(wrong[order])
    k = np.arange(1, len(score) + 1)
    return np.mean(errors / (len(score) if generalized else k))


def test_aurc_and_augrc_match_direct_computation():
    p, y = _random()
    wrong = p.mean(axis=2).argmax(axis=1) != y
    s = metrics.predictive_entropy(p)
    assert len(np.unique(s)) == len(s)
    assert metrics.aurc(p, y) == pytest.approx(_aurc_direct(s, wrong), abs=1e-12)
    assert metrics.augrc(p, y) == pytest.approx(_aurc_direct(s, wrong, True), abs=1e-12)
    rc = metrics.risk_coverage(p, y)
    assert rc["risk"][-1] == pytest.approx(wrong.mean())


def test_aurc_ties_do_not_depend_on_input_order():
    p, y = _random(s=3)  # variation ratio takes 3 values: many ties
    perm = np.random.default_rng(5).permutation(len(y))
    a = metrics.aurc(p, y, "variation_ratio")
    assert metrics.aurc(p[perm], y[perm], "variation_ratio") == pytest.approx(a, abs=1e-12)
    # All tied: every coverage has the overall error rate.
    flat = np.full((4, 2, 1), 0.5)
    assert metrics.aurc(flat, [0, 1, 1, 1], "max_probability") == pytest.approx(0.75)


def test_perfect_and_random_rankings():
    p = np.zeros((4, 2, 1))
    p[:2, 0] = 0.9  # confident, right
    p[2:, 0] = 0.6  # unsure, wrong
    p[:, 1] = 1 - p[:, 0]
    y = np.array([0, 0, 1, 1])
    assert metrics.misclassification_auroc(p, y, "max_probability") == 1.0
    assert metrics.aurc(p, y, "max_probability") == pytest.approx((0 + 0 + 1 / 3 + 2 / 4) / 4)
    assert metrics.augrc(p, y, "max_probability") == pytest.approx((0 + 0 + 1 / 4 + 2 / 4) / 4)


# -- dense outputs: (n, *dims, classes, samples) with labels (n, *dims) ------


_dense = functools.partial(dense_probabilities, n=5, dims=(4, 3))


LABELLED = ["misclassification_auroc", "aurc", "augrc"]


@pytest.mark.parametrize("name", LABELLED)
@pytest.mark.parametrize("score", list(uncertainty.SCORES))
def test_a_dense_output_pools_its_positions_as_rows(name, score):
    p, y = _dense()
    f = getattr(metrics, name)
    assert f(p, y, score) == f(_rows(p), _rows(y, 0), score)  # the same rows in the same order
    assert f(MCResult(p), y, score) == pytest.approx(f(_rows(p), _rows(y, 0), score), abs=1e-6)


def test_risk_coverage_of_a_dense_output_has_a_point_per_position():
    p, y = _dense()
    dense = metrics.risk_coverage(p, y)
    flat = metrics.risk_coverage(_rows(p), _rows(y, 0))
    assert dense["coverage"].shape == (60,)
    for key in flat:
        np.testing.assert_array_equal(dense[key], flat[key])


@pytest.mark.parametrize("name", LABELLED)
def test_ignore_by_value_and_by_mask(name):
    p, y = _dense()
    f = getattr(metrics, name)
    padding = np.zeros(y.shape, bool)
    padding[:, 3, :] = True
    padding[0] = True
    keep = _rows(~padding, 0)
    expected = f(_rows(p)[keep], _rows(y, 0)[keep], "mutual_information")
    assert f(p, y, "mutual_information", ignore=padding) == expected
    assert f(p, np.where(padding, 255, y), "mutual_information", ignore=255) == expected
    assert f(MCResult(p, class_names=["a", "b", "c"]), np.where(padding, "void", np.array(["a", "b", "c"])[y]),
             "mutual_information", ignore="void") == pytest.approx(expected, abs=1e-6)  # fmt: skip


def test_ood_measures_pool_the_positions_of_both_results():
    p_in, _ = _dense(seed=1)
    p_out = 0.5 * _dense(n=3, seed=2)[0] + 0.5 / 3  # flatter: more uncertain
    for f in (metrics.ood_auroc, metrics.fpr_at_95_tpr):
        expected = f(_rows(p_in), _rows(p_out), "predictive_entropy")
        assert f(p_in, p_out, "predictive_entropy") == expected
        assert f(MCResult(p_in), p_out, "predictive_entropy") == pytest.approx(expected, abs=1e-6)
        assert f(p_in, _rows(p_out), "predictive_entropy") == expected  # a dense and a flat result
    assert metrics.ood_auroc(p_in, p_out) > 0.8


def test_dense_label_errors_say_what_to_do():
    p, y = _dense()
    with pytest.raises(ValueError, match=r"labels of shape \(5, 4, 3\) \(n, \*dims\).*y.shape=\(5,\)"):
        metrics.misclassification_auroc(p, y[:, 0, 0])
    with pytest.raises(ValueError, match=r"pass y.reshape\(\(5, 4, 3\)\)"):
        metrics.aurc(p, y.ravel())
    with pytest.raises(ValueError, match=r"`ignore`. Expected a label value or a boolean array of shape \(5, 4, 3\)"):
        metrics.augrc(p, y, ignore=np.zeros((5, 4), bool))
    with pytest.raises(ValueError, match="it needs the labels"):
        metrics.risk_coverage(p, None, ignore=255)
