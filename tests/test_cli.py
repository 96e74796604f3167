"""The command line end to end, on the digits data (runs in a subprocess)."""

import os
import subprocess
import sys

import numpy as np
import pytest


def run(*args, check=True):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-m", "mcbridge", *args], capture_output=True, text=True, env=env, timeout=600
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"mcbridge {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "digits.keras"
    out = run("train", "--dataset", "digits", "--epochs", "2", "--seed", "0", "-o", str(path))
    assert "Saved" in out.stdout and path.is_file()
    return path


def test_help_explains_commands():
    out = run("--help").stdout
    for word in ("demo", "train", "predict", "Monte Carlo dropout"):
        assert word in out


def test_predict_on_dataset_saves_samples(trained, tmp_path):
    out_path = tmp_path / "samples.npz"
    out = run("predict", str(trained), "--dataset", "digits", "--n-samples", "6", "--limit", "50",
              "--seed", "1", "-o", str(out_path), "-q")
    assert "accuracy of the MC mean" in out.stdout and "mutual information" in out.stdout
    with np.load(out_path) as z:
        assert z["samples"].shape == (50, 10, 6) and z["samples"].dtype == np.float32
        assert z["mean"].shape == (50, 10) and z["y"].shape == (50,)
        np.testing.assert_allclose(z["variance"], z["samples"].var(axis=2, ddof=1), rtol=1e-4, atol=1e-9)


def test_predict_on_npy_file_is_reproducible(trained, tmp_path):
    from mcbridge.datasets import load_digits

    x = load_digits()[1][0][:7]
    np.save(tmp_path / "x.npy", x)
    outs = []
    for name in ("a.npz", "b.npz"):
        run("predict", str(trained), "-i", str(tmp_path / "x.npy"), "--n-samples", "4", "--seed", "3",
            "-o", str(tmp_path / name), "-q")
        with np.load(tmp_path / name) as z:
            outs.append(z["samples"])
    assert outs[0].shape == (7, 10, 4) and np.array_equal(outs[0], outs[1])


def test_demo_prints_the_table():
    out = run("demo", "--dataset", "digits", "--epochs", "1", "--n-samples", "5", "--test-limit", "100").stdout
    for text in ("accuracy", "NLL (nats)", "deterministic", "MC dropout mean", "mean mutual information",
                 "most uncertain"):
        assert text in out


def test_clear_errors(trained, tmp_path):
    err = run("predict", str(tmp_path / "missing.keras"), "-o", str(tmp_path / "o.npz"), check=False)
    assert err.returncode != 0 and "does not exist" in err.stderr
    np.save(tmp_path / "wrong.npy", np.zeros((3, 5, 5, 1), np.float32))
    err = run("predict", str(trained), "-i", str(tmp_path / "wrong.npy"), "-o", str(tmp_path / "o.npz"), check=False)
    assert err.returncode != 0 and "x.shape=(3, 5, 5, 1)" in err.stderr and "Traceback" not in err.stderr
    assert not (tmp_path / "o.npz").exists()
    err = run("predict", str(trained), "--n-samples", "0", "-o", str(tmp_path / "o.npz"), check=False)
    assert err.returncode != 0 and "--n-samples must be a positive integer" in err.stderr


def test_predict_writes_arrow_for_r(trained, tmp_path):
    from mcbridge import read_arrow

    out_path = tmp_path / "samples.arrow"
    run("predict", str(trained), "--dataset", "digits", "--n-samples", "3", "--limit", "20",
        "--seed", "2", "-o", str(out_path), "-q")
    result = read_arrow(out_path)
    assert result.samples.shape == (20, 10, 3)


def test_predict_streams_parquet_with_the_npz_numbers(trained, tmp_path):
    import pyarrow.parquet as pq

    from mcbridge.datasets import load_digits

    np.save(tmp_path / "x.npy", load_digits()[1][0][:9])
    common = ("predict", str(trained), "-i", str(tmp_path / "x.npy"), "--n-samples", "4", "--seed", "3", "-q")
    out = run(*common, "-o", str(tmp_path / "p.parquet"))
    assert "one row of summaries per input" in out.stdout
    run(*common, "--batch-size", "2", "-o", str(tmp_path / "s.npz"))
    table = pq.read_table(tmp_path / "p.parquet")
    with np.load(tmp_path / "s.npz") as z:
        mean = np.asarray(table["mean"].combine_chunks().flatten()).reshape(9, 10)
        # Same seed and keys, other batch size: same masks, float32 rounding apart.
        np.testing.assert_allclose(mean, z["mean"], rtol=0, atol=1e-5)
    np.testing.assert_array_equal(table["index"].to_numpy(), np.arange(9))
