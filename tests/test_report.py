"""mcbridge.report and `mcbridge evaluate` (in-process) write report.md and the pictures."""

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="matplotlib is the `plots` extra (in `test`)")

import mcbridge  # noqa: E402
from mcbridge import cli, report  # noqa: E402


def _png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_write_report(tmp_path):
    rng = np.random.default_rng(0)
    e = np.exp(2 * rng.normal(size=(40, 3, 6)))
    res = mcbridge.MCResult(e / e.sum(axis=1, keepdims=True), class_names=("cat", "dog", "bird"))
    y = rng.integers(0, 3, size=40)
    out = tmp_path / "rep"
    path = report.write_report(res, y, out, x=rng.random((40, 8, 8)), result_out=res.samples[:10])
    text = path.read_text()
    assert path == out / "report.md"
    for name in report.PICTURES.values():
        assert _png(out / name), name
        assert f"]({name})" in text
    assert "Classes: cat, dog, bird." in text
    ev = mcbridge.evaluate(res, y)
    assert f"| accuracy | {ev['accuracy']:.4f} |" in text
    assert f"| mutual_information | {ev['auroc_mutual_information']:.4f} |" in text
    assert "FPR at 95% TPR" in text


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from mcbridge import datasets

    (x, y), _ = datasets.load_digits()
    model = mcbridge.build_cnn(input_shape=(8, 8, 1), filters=(4,), dense_units=8, dropout=(0.25, 0.5),
                               padding="same", seed=0)  # fmt: skip
    model.fit(x[:300], y[:300], epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("model") / "digits.keras"
    model.save(path)
    return path


def test_cli_evaluate_on_dataset(saved_model, tmp_path, capsys):
    out = tmp_path / "report"
    assert cli.main(["evaluate", str(saved_model), "--dataset", "digits", "--n-samples", "4",
                     "--limit", "60", "--seed", "1", "--output-dir", str(out)]) == 0  # fmt: skip
    assert "report.md" in capsys.readouterr().out
    text = (out / "report.md").read_text()
    assert "60 inputs, 10 classes, 4 MC samples" in text
    for name in ("reliability.png", "scores_right_wrong.png", "most_uncertain.png", "sample_spread.png"):
        assert _png(out / name)


def test_cli_evaluate_on_npz_with_class_names(saved_model, tmp_path):
    from mcbridge import datasets

    _, (x, y) = datasets.load_digits()
    npz = tmp_path / "in.npz"
    np.savez(npz, x=x[:30], y=y[:30], class_names=np.array([f"digit {i}" for i in range(10)]))
    cli.main(["evaluate", str(saved_model), "--input", str(npz), "--n-samples", "3", "-o", str(tmp_path / "r")])
    assert "Classes: digit 0, digit 1" in (tmp_path / "r" / "report.md").read_text()
    np.savez(tmp_path / "nolabels.npz", x=x[:5])
    with pytest.raises(ValueError, match="`x` and `y`"):
        report.evaluate_model(saved_model, tmp_path / "r2", input_path=tmp_path / "nolabels.npz")
    with pytest.raises(SystemExit) as usage:  # an argparse type: exit 2, one line on stderr
        cli.main(["evaluate", str(saved_model), "--n-samples", "0", "-o", str(tmp_path / "r3")])
    assert usage.value.code == 2
