"""mcbridge.report and `mcbridge evaluate` (in-process) write report.md and the pictures."""

import json

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
    printed = capsys.readouterr().out
    text = (out / "report.md").read_text()
    assert "60 inputs, 10 classes, 4 MC samples" in text
    assert "Run: seed 1, MC prediction" in text and "## Deterministic prediction vs MC dropout mean" in text
    got = json.loads((out / "measures.json").read_text())
    for label, key in (("accuracy", "accuracy"), ("NLL (nats)", "nll"), ("ECE", "ece")):
        line = next(ln for ln in printed.splitlines() if ln.startswith(label + " "))
        assert line.split()[-2:] == [f"{got['deterministic'][key]:.4f}", f"{got['mc_dropout_mean'][key]:.4f}"]
    assert "AUROC wrong vs right (entropy)" in printed and "report.md" in printed and "seed 1" in printed
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


def test_report_compares_deterministic_and_mc_and_records_the_run(tmp_path):
    import json

    rng = np.random.default_rng(3)
    e = np.exp(2 * rng.normal(size=(200, 3, 8)))
    res = mcbridge.MCResult(e / e.sum(axis=1, keepdims=True))
    y = rng.integers(0, 3, size=200)
    det = np.roll(res.mean, 1, axis=0)  # another prediction of the same shape
    path = report.write_report(res, y, tmp_path, deterministic=det, seed=7, seconds=2.5)
    text = path.read_text()
    assert "## Deterministic prediction vs MC dropout mean" in text
    assert "Run: seed 7, MC prediction 2.5 s (640 samples/s)." in text
    mc, d = mcbridge.evaluate(res, y), mcbridge.evaluate(det[:, :, None], y)
    assert f"| NLL (nats) | {d['nll']:.4f} | {mc['nll']:.4f} |" in text
    assert f"| ECE | {d['ece']:.4f} | {mc['ece']:.4f} |" in text
    assert f"({d['nll']:.4f} -> {mc['nll']:.4f})" in text
    assert "| max_probability (deterministic) |" in text and "| mutual_information (MC) |" in text
    got = json.loads((tmp_path / report.MEASURES_FILE).read_text())
    assert got["seed"] == 7 and got["samples"] == 8 and got["inputs"] == 200
    assert got["mc_dropout_mean"]["nll"] == pytest.approx(mc["nll"])
    assert got["deterministic"]["auroc_max_probability"] == pytest.approx(d["auroc_max_probability"])
    with pytest.raises(ValueError, match=r"`deterministic`.*shape \(200, 3\)"):
        report.write_report(res, y, tmp_path / "bad", deterministic=det[:5])
    assert not (tmp_path / "bad").exists()


def test_max_calibration_error_from_a_near_empty_bin_gets_a_note(tmp_path):
    n = 400
    p = np.tile([0.9, 0.05, 0.05], (n, 1))
    y = np.where(np.arange(n) % 10 == 0, 1, 0)  # 90% right at confidence 0.9: calibrated
    p[:2] = [0.34, 0.33, 0.33]  # two inputs at confidence 0.34, both wrong: the largest gap
    y[:2] = 1
    text = report.write_report(p[:, :, None], y, tmp_path).read_text()
    assert "MCE (0.3400) comes from a near-empty bin: 2 of 400 inputs at confidence 0.33-0.40" in text
    assert "read the ECE" in text
    y[:] = np.where(np.arange(n) % 10 == 0, 1, 0)
    p[:] = [0.9, 0.05, 0.05]
    text = report.write_report(p[:, :, None], y, tmp_path / "full").read_text()
    assert "near-empty" not in text
