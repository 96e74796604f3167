"""TensorFlow's C++ log lines stay off the console when mcbridge starts TensorFlow."""

import os
import subprocess
import sys

import pytest

from mcbridge import _tflog

_TF_LINES = ("cpu_feature_guard", "XLA service", "Compiled cluster using XLA", "oneDNN custom operations",
             "absl::InitializeLog", "StreamExecutor")


def test_first_mc_predict_shows_no_tensorflow_log_line():
    """A fresh process, the user's level unset: import, a model, a first mc_predict (XLA kernels)."""
    code = (
        "import numpy as np, mcbridge\n"
        "m = mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16, padding='same')\n"
        "r = mcbridge.mc_predict(m, np.zeros((3, 8, 8, 1), np.float32), n_samples=4, seed=1)\n"
        "import os; print('done', r.samples.shape, os.environ['TF_CPP_MIN_LOG_LEVEL'])\n"
    )
    # (An embedded R, started by earlier tests through rpy2, sets LD_LIBRARY_PATH to
    # system libraries that a child Python must not load.)
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "LD_LIBRARY_PATH")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done (3, 3, 4) 1", out.stdout
    shown = [line for line in out.stderr.splitlines() if any(s in line for s in _TF_LINES)]
    assert not shown, "\n".join(shown)


def test_info_lines_are_dropped_and_everything_else_kept(capfd):
    def noisy_import(module):
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"I0000 00:00:1796663941.898488   18321 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"W0000 00:00:1796663941.9   18321 foo.cc:1] a real warning\n")
        os.write(2, b"a line of another kind\n")

    _tflog._without_info_lines(noisy_import, None)
    err = capfd.readouterr().err
    assert err == "W0000 00:00:1796663941.9   18321 foo.cc:1] a real warning\na line of another kind\n"


def test_an_error_in_the_import_still_restores_stderr_and_shows_its_lines(capfd):
    def failing(module):
        os.write(2, b"E0000 00:00:1.0   1 x.cc:1] could not load a library\n")
        raise ImportError("boom")

    with pytest.raises(ImportError, match="boom"):
        _tflog._without_info_lines(failing, None)
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "E0000 00:00:1.0   1 x.cc:1] could not load a library\nafter\n"


@pytest.mark.parametrize("user_level,tf_loaded", [("0", False), (None, True)])
def test_the_users_level_and_a_running_tensorflow_are_left_alone(monkeypatch, user_level, tf_loaded):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    if user_level is None:
        monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", user_level)
    if not tf_loaded:
        monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    before = list(sys.meta_path)
    _tflog.quiet_start()
    assert sys.meta_path == before
    assert os.environ.get("TF_CPP_MIN_LOG_LEVEL") == user_level
