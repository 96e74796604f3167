"""Progress bars: counted in inputs, tqdm in terminals and kernels, shown by default in a notebook kernel."""

import sys

import numpy as np
import pytest

import mcbridge
from mcbridge import _progress


def test_no_bar_when_not_wanted_or_short():
    assert _progress.progress_bar(False, 10**6) is None
    assert _progress.progress_bar(None, 10, work=_progress.LONG_WORK - 1) is None
    assert _progress.progress_bar(True, 0) is None  # nothing to count


def test_default_needs_long_work_and_a_watcher(monkeypatch):
    class Tty:
        def isatty(self):
            return True

        def write(self, s):
            return len(s)

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stderr", Tty())
    assert _progress.watched()
    bar = _progress.progress_bar(None, 10, work=_progress.LONG_WORK)
    assert bar is not None
    bar.close()
    monkeypatch.setattr(sys, "stderr", None)  # pythonw, a closed console
    assert not _progress.watched()
    assert _progress.progress_bar(None, 10, work=10 * _progress.LONG_WORK) is None


def test_mc_predict_bar_counts_inputs(cnn, capsys):
    pytest.importorskip("tqdm")
    x = np.random.default_rng(0).random((10, 8, 8, 1), dtype=np.float32)
    mcbridge.mc_predict(cnn, x, n_samples=4, batch_size=3, memory_budget=1, seed=1, progress=True)
    err = capsys.readouterr().err
    assert "10/10" in err and "input" in err and "chunk" not in err


def test_report_to_gets_inputs_done_in_order_ending_at_the_total(cnn, monkeypatch):
    monkeypatch.setattr(_progress, "REPORT_INTERVAL", 0.0)
    x = np.random.default_rng(0).random((7, 8, 8, 1), dtype=np.float32)
    seen = []
    with _progress.report_to(lambda done, total: seen.append((done, total))):
        mcbridge.mc_predict(cnn, x, n_samples=5, batch_size=2, memory_budget=1, seed=1, progress=True)
    assert {t for _, t in seen} == {7}
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (7, 7)
    assert len(seen) > 4  # several updates per input chunk (samples in blocks)
    seen.clear()
    mcbridge.mc_predict(cnn, x, n_samples=5, batch_size=2, seed=1, progress=True)
    assert seen == []  # only inside the block


def test_predict_to_file_bar_counts_inputs(cnn, tmp_path, capsys):
    pytest.importorskip("tqdm")
    x = np.random.default_rng(0).random((9, 8, 8, 1), dtype=np.float32)
    mcbridge.predict_to_file(cnn, x, tmp_path / "p.arrow", n_samples=3, seed=1, progress=True)
    assert "9/9" in capsys.readouterr().err
    blocks = (x[i : i + 4] for i in range(0, 9, 4))  # unknown length: a counter
    mcbridge.predict_to_file(cnn, blocks, tmp_path / "q.arrow", n_samples=3, seed=1, progress=True)
    assert "9input" in capsys.readouterr().err.replace(" ", "")


# In a real Jupyter kernel a long mc_predict shows a bar by default: checked by
# tests/test_examples.py, in the kernel that runs examples/quickstart.ipynb (one TensorFlow start).
