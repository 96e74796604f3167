"""mcbridge.plots: each picture renders to a valid PNG of plausible size."""

import struct

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="matplotlib is the `plots` extra (in `test`)")

from mcbridge import MCResult, plots  # noqa: E402


def png_size(path):
    """(width, height) of a PNG file, after checking its signature and IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    assert data[-8:-4] == b"IEND"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(0)
    e = np.exp(2 * rng.normal(size=(60, 4, 10)))
    names = ("T-shirt/top", "Trouser", "Pullover", "Dress")
    return MCResult(e / e.sum(axis=1, keepdims=True), class_names=names), rng.integers(0, 4, size=60)


def check(path, min_w, min_h, min_bytes=8000):
    w, h = png_size(path)
    assert w >= min_w and h >= min_h, (w, h)
    assert w <= 4000 and h <= 4000
    assert path.stat().st_size > min_bytes


def test_reliability_diagram(result, tmp_path):
    res, y = result
    fig = plots.reliability_diagram(res, y, path=tmp_path / "r.png")
    check(tmp_path / "r.png", 400, 400)
    assert "ECE = " in fig.axes[0].get_title()
    plots.reliability_diagram(res.mean, y, adaptive=True, path=tmp_path / "a.png")
    check(tmp_path / "a.png", 400, 400)


def test_score_histograms(result, tmp_path):
    res, y = result
    fig = plots.score_histogram(res, y, path=tmp_path / "h.png")
    check(tmp_path / "h.png", 500, 300)
    assert "misclassification AUROC" in fig.axes[0].get_title()
    flat = MCResult(np.full((20, 4, 10), 0.25))
    fig = plots.score_histogram(res, result_out=flat, score="max_probability", path=tmp_path / "o.png")
    check(tmp_path / "o.png", 500, 300)
    assert "OOD AUROC = 1.000" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="exactly one"):
        plots.score_histogram(res)


def test_uncertain_grid_shows_class_names(result, tmp_path):
    res, y = result
    x = np.random.default_rng(1).random((60, 8, 8, 1))
    fig = plots.uncertain_grid(res, x, k=6, y=y, ncols=3, path=tmp_path / "g.png")
    check(tmp_path / "g.png", 800, 300)
    labels = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    assert "T-shirt/top" in labels
    with pytest.raises(ValueError, match="`x`"):
        plots.uncertain_grid(res, x[:5], k=3)


def test_sample_spread(result, tmp_path):
    res, _ = result
    fig = plots.sample_spread(res.samples, 3, class_names=list("abcd"), path=tmp_path / "s.png")
    check(tmp_path / "s.png", 400, 300)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == list("abcd")
    with pytest.raises(ValueError, match="index=60"):
        plots.sample_spread(res, 60)


def test_figures_display_inline_without_changing_the_backend(result):
    """IPython's rich display gives image/png (tests/test_examples.py checks a real kernel)."""
    import pickle

    res, y = result
    fig = plots.reliability_diagram(res, y)
    png = fig._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 8000
    ipython = pytest.importorskip("IPython.core.formatters")
    data, _ = ipython.DisplayFormatter().format(fig)
    assert data["image/png"] == png
    again = pickle.loads(pickle.dumps(fig))
    assert type(again) is type(fig) and again._repr_png_()[:8] == png[:8]


def test_uncertainty_map_of_a_segmentation(tmp_path):
    rng = np.random.default_rng(1)
    e = np.exp(2 * rng.normal(size=(3, 12, 10, 3, 5)))
    seg = MCResult(e / e.sum(axis=-2, keepdims=True), class_names=("sky", "road", "car"))
    x, y = rng.random((3, 12, 10, 1)), rng.integers(0, 3, (3, 12, 10))
    fig = plots.uncertainty_map(seg, x, 2, y=y, path=tmp_path / "m.png")
    check(tmp_path / "m.png", 900, 250)
    assert len(fig.axes) == 6  # four panels and two colour bars
    assert [t.get_text() for t in fig.axes[-2].get_yticklabels()] == ["sky", "road", "car"]  # (the class bar)
    wrong = (seg.predicted_class[2] != y[2]).mean()
    assert fig.axes[3].get_title() == f"wrong pixels ({wrong:.1%})"
    with pytest.raises(ValueError, match=r"shape \(n, H, W, classes, samples\)"):
        plots.uncertainty_map(MCResult(np.full((2, 3, 4), 1 / 3)), x, 0)
    with pytest.raises(ValueError, match=r"x.shape=\(3, 10, 12, 1\)"):
        plots.uncertainty_map(seg, x.transpose(0, 2, 1, 3), 0)
