"""Python-side R tests: rpy2 (mcbridge.r) and cross-language checks that run
`Rscript` in a subprocess with the installed R package `mcbridge`.

These need R, the R packages nanoarrow and mcbridge (scripts/setup_r.sh) and
rpy2. They skip, with the reason, only when R is truly absent; with
MCBRIDGE_TESTS_REQUIRE_R=true (the project's test command) they fail instead.
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import mcbridge
from mcbridge import arrow

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_R = os.environ.get("MCBRIDGE_TESTS_REQUIRE_R", "").lower() == "true"


def _r_ready():
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not found (run scripts/setup_r.sh)"
    probe = subprocess.run(
        [rscript, "-e", 'quit(status = !(requireNamespace("mcbridge", quietly = TRUE) && '
         'requireNamespace("nanoarrow", quietly = TRUE)))'],
        capture_output=True,
    )
    if probe.returncode != 0:
        return "R packages mcbridge/nanoarrow not installed (run scripts/setup_r.sh)"
    return None


_REASON = _r_ready()


def need_r():
    if _REASON is not None:
        if REQUIRE_R:
            pytest.fail(_REASON)
        pytest.skip(_REASON)


def run_r(code: str, *args, timeout=300) -> str:
    """Runs R code with Rscript; the R package uses this Python as its engine."""
    need_r()
    env = dict(os.environ)
    for var in ("PYTHONHOME", "RETICULATE_PYTHON"):  # PYTHONPATH kept: same mcbridge
        env.pop(var, None)
    env["MCBRIDGE_PYTHON"] = sys.executable
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    proc = subprocess.run(
        ["Rscript", "-e", textwrap.dedent(code), *map(str, args)],
        capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT,
    )  # fmt: skip
    if proc.returncode != 0:
        raise AssertionError(f"Rscript failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def index_array(shape=(4, 3, 5), dtype=np.float32):
    return np.fromfunction(lambda i, j, k: 100 * i + 10 * j + k, shape, dtype=dtype)


# --------------------------------------------------------------------------
# rpy2
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rpy2_r():
    need_r()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not REQUIRE_R:
            pytest.importorskip("rpy2.robjects")
        import mcbridge.r as mr
        import rpy2.robjects as ro
    return ro, mr


def test_rpy2_assign_array_keeps_index_semantics(rpy2_r):
    ro, mr = rpy2_r
    a = index_array()
    mr.assign("x", a)
    assert list(ro.r("dim(x)")) == [4, 3, 5]
    assert ro.r("x[3, 2, 5]")[0] == a[2, 1, 4] == 214
    assert ro.r("typeof(x)")[0] == "double"
    mr.assign("labels", np.array([3, 1, 2], dtype=np.int32))
    assert list(ro.r("labels")) == [3, 1, 2] and ro.r("typeof(labels)")[0] == "integer"


def test_rpy2_assign_mc_result_is_an_mc_prediction(rpy2_r):
    ro, mr = rpy2_r
    p = np.random.default_rng(1).dirichlet(np.ones(5), size=(6, 7)).transpose(0, 2, 1)
    res = mcbridge.MCResult(np.asfortranarray(p.astype(np.float32)))
    mr.assign("res", res)
    assert list(ro.r("class(res)")) == ["mc_prediction"]
    assert list(ro.r("names(res)")) == ["mean", "variance", "all_samples"]
    assert list(ro.r("dim(res$all_samples)")) == [6, 5, 7]
    assert ro.r("res$all_samples[2, 3, 4]")[0] == float(res.samples[1, 2, 3])
    r_var = np.asarray(ro.r("res$variance"))
    np.testing.assert_allclose(r_var, res.variance, rtol=1e-5, atol=1e-7)
    r_mi = np.asarray(ro.r("mcbridge::mc_mutual_information(res)"))
    np.testing.assert_allclose(r_mi, mcbridge.metrics.mutual_information(res), atol=1e-6)
    back = mr.from_r("res")
    assert isinstance(back, mcbridge.MCResult)
    np.testing.assert_array_equal(back.samples, res.samples)
    np.testing.assert_array_equal(mr.from_r(ro.r("array(1:24, c(2, 3, 4))")),
                                  np.arange(1, 25).reshape((2, 3, 4), order="F"))


# --------------------------------------------------------------------------
# Rscript subprocess: files in every direction
# --------------------------------------------------------------------------
def test_files_python_to_r_and_r_to_python(tmp_path):
    a = index_array()
    arrow.write_arrow(mcbridge.MCResult(a), tmp_path / "py_res.arrow", rows_per_batch=3)
    arrow.write_arrow(a.astype(np.int32), tmp_path / "py_int.arrow")
    out = run_r(
        """
        d <- commandArgs(TRUE)[1]
        res <- mcbridge::mc_read_arrow(file.path(d, "py_res.arrow"))
        stopifnot(inherits(res, "mc_prediction"))
        cat("res", res$all_samples[3, 2, 5], "\\n")
        x <- mcbridge::mc_read_arrow(file.path(d, "py_int.arrow"))
        cat("int", typeof(x), x[4, 3, 1], "\\n")
        # nanoarrow alone (no mcbridge) reads the file
        s <- suppressWarnings(nanoarrow::read_nanoarrow(file.path(d, "py_int.arrow")))
        cat("meta", s$get_schema()$metadata[["mcbridge:shape"]], "\\n")
        # R -> Python, and R -> R
        mcbridge::mc_write_arrow(res, file.path(d, "r_res.arrow"), rows_per_batch = 2)
        mcbridge::mc_write_arrow(array(seq_len(24), c(2, 3, 4)) / 8, file.path(d, "r_dbl.arrow"))
        stopifnot(identical(mcbridge::mc_read_arrow(file.path(d, "r_res.arrow")), res))
        """,
        tmp_path,
    )
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert lines["res"].strip() == "214"
    assert lines["int"].strip() == "integer 320"
    assert lines["meta"].strip() == "[4, 3, 5]"
    back = arrow.read_arrow(tmp_path / "r_res.arrow")
    assert isinstance(back, mcbridge.MCResult)
    np.testing.assert_array_equal(back.samples, a)
    dbl = arrow.read_arrow(tmp_path / "r_dbl.arrow")
    assert dbl.dtype == np.float64
    np.testing.assert_array_equal(dbl, np.arange(1, 25).reshape((2, 3, 4), order="F") / 8)
    import pyarrow as pa

    t = pa.ipc.open_stream(str(tmp_path / "r_res.arrow")).read_all()
    assert t.schema.metadata[b"mcbridge:kind"] == b"mc_samples"
    assert t.num_rows == 60


# --------------------------------------------------------------------------
# Rscript subprocess: the same model, input and seed give the same cube
# --------------------------------------------------------------------------
def test_r_and_python_mc_predict_bit_identical_and_metrics_agree(tmp_path):
    (x_tr, y_tr), (x_te, _) = mcbridge.datasets.load_digits()
    model = mcbridge.build_cnn(
        input_shape=(8, 8, 1), n_classes=10, filters=(4,), dense_units=8,
        dropout=(0.25, 0.5), seed=3,
    )  # fmt: skip
    model.fit(x_tr[:256], y_tr[:256], epochs=1, batch_size=64, verbose=0)
    model.save(tmp_path / "m.keras")
    x = x_te[:11]
    arrow.write_arrow(x, tmp_path / "x.arrow")
    py = mcbridge.mc_predict(model, x, n_samples=7, batch_size=4, seed=42)
    run_r(
        """
        library(mcbridge)
        d <- commandArgs(TRUE)[1]
        m <- mc_load_model(file.path(d, "m.keras"))
        x <- mc_read_arrow(file.path(d, "x.arrow"))          # c(11, 8, 8, 1)
        res <- mc_predict(m, x[, , , 1], n_samples = 7, batch_size = 4, seed = 42)
        mc_write_arrow(res, file.path(d, "r.arrow"))
        met <- cbind(mc_predictive_entropy(res), mc_expected_entropy(res),
                     mc_mutual_information(res), mc_variation_ratio(res))
        mc_write_arrow(met, file.path(d, "metrics.arrow"))
        """,
        tmp_path,
    )
    r = arrow.read_arrow(tmp_path / "r.arrow")
    assert r.samples.shape == (11, 10, 7)
    assert r.samples.tobytes(order="F") == py.samples.tobytes(order="F")  # bit-identical
    met = arrow.read_arrow(tmp_path / "metrics.arrow")
    expected = np.stack(
        [py.predictive_entropy(), py.expected_entropy(), py.mutual_information(),
         py.variation_ratio()], axis=1,
    )  # fmt: skip
    np.testing.assert_allclose(met, expected, rtol=0, atol=1e-6)


# --------------------------------------------------------------------------
# The R example on a small slice
# --------------------------------------------------------------------------
def test_r_example_runs_on_a_slice():
    need_r()
    try:
        from mcbridge.datasets import load_fashion_mnist

        load_fashion_mnist(normalize=False)
    except FileNotFoundError as e:
        pytest.skip(f"Fashion-MNIST not installed: {e}")
    env = dict(os.environ)
    for var in ("PYTHONHOME", "RETICULATE_PYTHON"):  # PYTHONPATH kept: same mcbridge
        env.pop(var, None)
    env.update(MCBRIDGE_PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="3",
               MCBRIDGE_EXAMPLE_N="256", MCBRIDGE_EXAMPLE_EPOCHS="1")  # fmt: skip
    proc = subprocess.run(
        ["Rscript", str(ROOT / "examples" / "mc_dropout_fashion_mnist.R")],
        capture_output=True, text=True, env=env, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "256 inputs x 10 classes x 30 samples" in proc.stdout
    assert "First test item: predicted class" in proc.stdout
    assert "predictive entropy" in proc.stdout
