"""MCResult: refuses non-finite samples; notebook HTML summaries of results, ensembles and calibrators."""

import html.parser

import numpy as np
import pytest

import mcbridge
from mcbridge import MCResult
from mcbridge.calibration import TemperatureScaler


class _Text(html.parser.HTMLParser):
    """The text of an HTML fragment; fails on unbalanced tags."""

    def __init__(self):
        super().__init__()
        self.text, self.open = [], []

    def handle_starttag(self, tag, attrs):
        self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open.pop() == tag

    def handle_data(self, data):
        self.text.append(data)


def text_of(fragment: str) -> str:
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    assert parser.open == []
    return " ".join(parser.text)


def probs(n=8, c=3, s=5, seed=0):
    e = np.exp(2 * np.random.default_rng(seed).normal(size=(n, c, s)))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_refused(bad):
    p = probs()
    p[5, 1, 2] = bad
    with pytest.raises(ValueError, match=r"`samples`.*finite.*1 of 8 inputs \(first: input 5\)"):
        MCResult(p)
    with pytest.raises(ValueError, match="8 of 8 inputs"):
        MCResult(np.full((8, 3, 5), np.nan))
    with pytest.raises(ValueError, match="`noise_variance`"):
        MCResult(np.zeros((8, 3, 5)), task="regression", noise_variance=np.where(np.isfinite(p), 1.0, p))


def test_non_finite_checks_only_the_samples_an_input_used():
    p = probs()
    p[:, :, 3:] = np.nan  # an adaptive result's padding
    n_used = np.full(8, 3)
    MCResult(p, n_used=n_used)  # padding is not an error
    p[6, 0, 1] = np.inf
    with pytest.raises(ValueError, match=r"1 of 8 inputs \(first: input 6\)"):
        MCResult(p, n_used=n_used)
    dense = np.asfortranarray(np.broadcast_to(probs()[:, None, :, :], (8, 4, 3, 5)))  # (n, positions, classes, samples)
    dense[2, 3, 1, 4] = np.nan
    with pytest.raises(ValueError, match=r"1 of 8 inputs \(first: input 2\)"):
        MCResult(dense)


def test_float64_beyond_float32_is_refused():
    with pytest.raises(ValueError, match="finite"):
        MCResult(np.full((2, 1, 3), 1e300), task="regression")


def test_html_of_a_classification_result():
    p = probs(n=40, c=4, s=6)
    p[:10] = 0.25  # ten inputs with maximal entropy
    res = MCResult(p, class_names=["<b>cat</b>", "dog", "T-shirt/top", "bag & co"])
    out = res._repr_html_()
    text = text_of(out)
    assert "<b>cat</b>" not in out and "&lt;b&gt;cat&lt;/b&gt;" in out  # escaped
    assert "40 inputs x 4 classes x 6 samples" in text and "classification" in text
    assert "T-shirt/top" in text and "bag & co" in text
    pe, mi = res.predictive_entropy().mean(), res.mutual_information().mean()
    assert f"{pe:.4f} nats" in text and f"{mi:.4f} nats" in text
    uncertain = int(np.sum(res.predictive_entropy() > 0.5 * np.log(4)))
    assert uncertain >= 10
    assert f"{uncertain} of 40" in text and "predictive entropy > 0.5 x ln 4 = 0.693 nats" in text
    assert len(out) < 3000


def test_html_of_regression_and_large_results():
    res = MCResult(np.random.default_rng(0).normal(size=(5, 2, 4)), task="regression",
                   noise_variance=np.ones((5, 2, 4)))
    text = text_of(res._repr_html_())
    assert "5 inputs x 2 outputs x 4 samples" in text and "regression" in text
    assert "(aleatoric)" in text and "1 (aleatoric)" in text
    empty = MCResult(np.zeros((0, 3, 4)))
    assert "left out" in text_of(empty._repr_html_())


def test_html_of_the_calibrator():
    scaler = TemperatureScaler()
    assert "not fitted" in text_of(scaler._repr_html_())
    y = np.random.default_rng(1).integers(0, 3, size=8)
    scaler.fit(probs(), y)
    text = text_of(scaler._repr_html_())
    assert f"{scaler.temperature_:.4g}" in text
    assert f"{scaler.nll_before_:.4f} -> {scaler.nll_after_:.4f} nats" in text


def test_html_of_an_ensemble(cnn):
    import keras

    other = keras.models.clone_model(cnn)
    other.name = "second<model>"
    ens = mcbridge.Ensemble([cnn, other], member_seeds=[3, 4])
    out = ens._repr_html_()
    text = text_of(out)
    assert "second<model>" in text and "second&lt;model&gt;" in out
    assert "(None, 8, 8, 1)" in text and "3 per input" in text
    assert f"{2 * cnn.count_params():,} in all" in text and "3, 4" in text
