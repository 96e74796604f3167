"""The Python examples run end to end (on a small slice of the digits data).

Each runs as its own `__main__` in the test process (`runpy`), as
`python examples/NAME.py ARGS` would, without starting TensorFlow again.
"""

import importlib.util
import runpy
import sys
import types
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name, *args, monkeypatch, capsys):
    """Runs `examples/NAME ARGS`; returns what it printed (stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / name), *args])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    out = capsys.readouterr()
    return types.SimpleNamespace(returncode=0, stdout=out.out, stderr=out.err)


def test_custom_training_loop_example(monkeypatch, capsys):
    proc = run_example("custom_training_loop.py", "--dataset", "digits", "--limit", "300", "--epochs", "1",
                       monkeypatch=monkeypatch, capsys=capsys)
    assert proc.returncode == 0, proc.stderr
    assert "first item: class" in proc.stdout
    assert "two MC passes differ: True" in proc.stdout


def test_active_learning_example_on_a_slice(monkeypatch, capsys):
    proc = run_example("active_learning.py", "--dataset", "digits", "--pool", "400", "--test", "200",
                       "--initial", "40", "--k", "20", "--rounds", "2", "--epochs", "2", "--n-samples", "4",
                       monkeypatch=monkeypatch, capsys=capsys)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # Start at the table's header: Keras or TensorFlow may print lines before it.
    head = next(i for i, line in enumerate(lines) if line.split() == ["labelled", "BALD", "top-k", "random"])
    assert [int(line.split()[0]) for line in lines[head + 1 : head + 4]] == [40, 60, 80], proc.stdout
    assert "mean accuracy gain of BALD over random" in lines[head + 4], proc.stdout


def test_quickstart_notebook_runs_in_a_kernel_and_shows_its_pictures(tmp_path):
    """examples/quickstart.ipynb, stored without outputs, runs headless in a Jupyter kernel of this Python.

    Cells tagged "picture" must show an image (image/png) in the kernel's
    default set-up (no `%matplotlib`, no backend chosen, no pyplot); results
    and calibrators show HTML summaries. Two cells added after the notebook's
    check the kernel's Python and that a long `mc_predict` shows a progress
    bar counting inputs there by default (a short one stays quiet).
    """
    nbformat = pytest.importorskip("nbformat", reason="the `test` extra runs the notebook (nbformat)")
    nbclient = pytest.importorskip("nbclient", reason="the `test` extra runs the notebook (nbclient)")
    pytest.importorskip("ipykernel", reason="the `test` extra runs the notebook (ipykernel)")
    pytest.importorskip("matplotlib")
    nb = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "store the notebook without outputs"
    pictures = [c for c in code if "picture" in c.metadata.get("tags", [])]
    assert len(pictures) == 4
    source = "\n".join(c.source for c in code)
    assert "%matplotlib" not in source and "matplotlib.use" not in source and "pyplot" not in source
    probe = nbformat.v4.new_code_cell("import sys\nprint(sys.executable)")
    # Progress (issue 23): stderr is no terminal in a kernel, yet a long run shows a bar of inputs.
    progress = nbformat.v4.new_code_cell(
        "from mcbridge import _progress\n"
        "print(sys.stderr.isatty(), _progress.in_kernel(), _progress.watched())\n"
        "m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dropout(0.5),\n"
        "                      keras.layers.Dense(3, activation='softmax')])\n"
        "r = mcbridge.mc_predict(m, np.zeros((2500, 4), np.float32), n_samples=100, seed=0)  # >= LONG_WORK\n"
        "short = mcbridge.mc_predict(m, np.zeros((10, 4), np.float32), n_samples=3, seed=0)"
    )
    nb.cells += [probe, progress]
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600,
                                     resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute()  # raises CellExecutionError with the cell and its traceback on any error
    text = "".join(o.get("text", "") for o in probe.outputs if o.output_type == "stream").split()
    assert text == [sys.executable], f"the kernel ran {text}, not this Python ({sys.executable})"
    printed = "".join(o.get("text", "") for o in progress.outputs if o.get("name") == "stdout")
    assert printed.split() == ["False", "True", "True"], progress.outputs
    if importlib.util.find_spec("tqdm") is not None:
        err = "".join(o.get("text", "") for o in progress.outputs if o.get("name") == "stderr")
        assert "2500/2500" in err and "input" in err and "10/10" not in err, progress.outputs
    for cell in pictures:
        kinds = [set(o.get("data", {})) for o in cell.outputs]
        assert any("image/png" in k for k in kinds), (cell.source, cell.outputs)
    html = [o for c in code for o in c.outputs if "text/html" in o.get("data", {})]
    assert any("MCResult" in o["data"]["text/html"] for o in html)
    assert any("TemperatureScaler" in o["data"]["text/html"] for o in html)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert list(tmp_path.iterdir()) == []  # writes no files


def test_segmentation_example_maps_uncertainty_per_pixel(monkeypatch, capsys, tmp_path):
    picture = tmp_path / "seg.png"
    proc = run_example("segmentation.py", "--images", "64", "--size", "16", "--epochs", "2", "--n-samples", "4",
                       "--picture", str(picture), monkeypatch=monkeypatch, capsys=capsys)
    assert "samples (100, 16, 16, 3, 4) (n, H, W, classes, samples)" in proc.stdout
    assert "error rate of the 10% most uncertain pixels" in proc.stdout
    assert picture.stat().st_size > 0


def test_text_classification_example_on_a_small_corpus(monkeypatch, capsys):
    proc = run_example("text_classification.py", "--sentences", "200", "--test", "60", "--epochs", "1",
                       "--n-samples", "4", monkeypatch=monkeypatch, capsys=capsys)
    assert "samples (60, 2, 4) (n, classes, samples)" in proc.stdout
    assert "mean mutual information: mixed sentences" in proc.stdout
