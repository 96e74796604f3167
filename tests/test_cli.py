"""The command line end to end, on the digits data.

`run` calls `mcbridge.cli.main` in this process (each fresh process would
start TensorFlow again, about 5 s); `run(..., process=True)` runs
`python -m mcbridge` in a subprocess, for what only a process shows.
"""

import contextlib
import io
import os
import subprocess
import sys
import types

import numpy as np
import pytest


def run(*args, check=True, process=False):
    """`mcbridge ARGS`: an object with `returncode`, `stdout` and `stderr`."""
    if process:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run(
            [sys.executable, "-m", "mcbridge", *args], capture_output=True, text=True, env=env, timeout=600
        )
    else:
        from mcbridge import cli

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = cli.main(list(args))
            except SystemExit as exit_:
                rc = exit_.code
        proc = types.SimpleNamespace(returncode=rc or 0, stdout=out.getvalue(), stderr=err.getvalue())
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
    out = run("--help", process=True).stdout
    for word in ("demo", "train", "predict", "Monte Carlo dropout"):
        assert word in out


def test_predict_on_dataset_saves_samples(trained, tmp_path):
    out_path = tmp_path / "samples.npz"
    out = run("predict", str(trained), "--dataset", "digits", "--n-samples", "6", "--limit", "50",
              "--seed", "1", "-o", str(out_path), "-q", process=True)  # the whole command, in its own process
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


def test_predict_precision_gives_the_python_bits(trained, tmp_path):
    """`--precision bfloat16` is `mc_predict(..., precision="bfloat16")`: same model, inputs and seed, same bits."""
    import warnings

    import mcbridge
    from mcbridge.datasets import load_digits

    x = load_digits()[1][0][:5]
    np.save(tmp_path / "x.npy", x)
    run("predict", str(trained), "-i", str(tmp_path / "x.npy"), "--n-samples", "4", "--seed", "3",
        "--precision", "bfloat16", "-o", str(tmp_path / "b.npz"), "-q")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (a CPU without bfloat16 computes float32)
        expected = mcbridge.mc_predict(mcbridge.load_model(trained), x, 4, seed=3, precision="bfloat16").samples
    with np.load(tmp_path / "b.npz") as z:
        assert np.array_equal(z["samples"], expected)


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
    assert err.returncode == 2 and "argument --n-samples: expected a positive integer, got 0" in err.stderr


def test_predict_writes_arrow_for_r(trained, tmp_path):
    from mcbridge import read_arrow

    out_path = tmp_path / "samples.arrow"
    run("predict", str(trained), "--dataset", "digits", "--n-samples", "3", "--limit", "20",
        "--seed", "2", "-o", str(out_path), "-q")
    result = read_arrow(out_path)
    assert result.samples.shape == (20, 10, 3)


# user errors: one line on stderr, exit 2 for usage errors, 1 otherwise -----


def in_process(argv, capsys):
    """(exit status, stderr lines) of `mcbridge ARGV`, run in this process."""
    from mcbridge import cli

    try:
        rc = cli.main(argv)
    except SystemExit as exit_:
        rc = exit_.code
    err = capsys.readouterr().err
    return rc, [line for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "argv,message",
    [
        (["predict", "m.keras", "-o", "o.npz", "--n-samples", "-3"], "argument --n-samples: expected a positive integer, got -3"),
        (["predict", "m.keras", "-o", "o.npz", "--n-samples", "2.5"], "argument --n-samples: expected a positive integer, got '2.5'"),
        (["predict", "m.keras", "-o", "o.npz", "--batch-size", "abc"], "argument --batch-size: expected a positive integer, got 'abc'"),
        (["predict", "m.keras", "-o", "o.npz", "--batch-size", str(2**31)], "expected a positive integer up to 2147483647"),
        (["predict", "m.keras", "-o", "o.npz", "--seed", "-1"], "argument --seed: expected a non-negative integer, got -1"),
        (["predict", "m.keras", "-o", "o.npz", "--limit", "0"], "argument --limit: expected a positive integer, got 0"),
        (["predict", "m.keras"], "the following arguments are required: --output/-o"),
        (["predict", "m.keras", "-o", "o.npz", "--precision", "float16"], "argument --precision: invalid choice: 'float16'"),
        (["train", "-o", "m.keras", "--epochs", "0"], "argument --epochs: expected a positive integer, got 0"),
        (["train", "-o", "m.keras", "--dataset", "cifar"], "argument --dataset: invalid choice: 'cifar'"),
        (["demo", "--n-samples", "x"], "argument --n-samples: expected a positive integer, got 'x'"),
        (["bogus"], "argument COMMAND: invalid choice: 'bogus'"),
        ([], "the following arguments are required: COMMAND"),
    ],
    ids=["negative", "fraction", "text", "int32", "seed", "limit", "no-output", "precision", "epochs", "dataset", "demo",
         "command", "nothing"],
)
def test_usage_errors_are_one_line_exit_2(argv, message, capsys):
    rc, lines = in_process(argv, capsys)
    assert rc == 2 and len(lines) == 1 and message in lines[0] and lines[0].startswith("mcbridge")


def test_user_errors_are_one_line_exit_1(trained, tmp_path, capsys):
    out = str(tmp_path / "o.npz")
    np.save(tmp_path / "x.npy", np.zeros((2, 8, 8, 1), np.float32))
    (tmp_path / "garbage.npy").write_bytes(b"not numpy at all")
    (tmp_path / "garbage.keras").write_bytes(b"not a zip")
    np.savez(tmp_path / "two.npz", a=np.zeros(2), b=np.zeros(2))
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"")
    cases = [
        (["predict", str(tmp_path / "missing.keras"), "-o", out], "model file"),
        (["predict", str(trained), "-i", str(tmp_path / "nope.npy"), "-o", out], "input file"),
        (["predict", str(trained), "-o", str(tmp_path / "o.csv")], "--output must end in .npz, .arrow or .parquet"),
        (["predict", str(trained), "-o", str(tmp_path / "no" / "o.npz")], "directory"),
        (["predict", str(trained), "-i", str(tmp_path / "garbage.npy"), "-o", out], "cannot read"),
        (["predict", str(trained), "-i", str(tmp_path / "two.npz"), "-o", out], "name the inputs with --key"),
        (["predict", str(tmp_path / "garbage.keras"), "-o", out], "is not a Keras model file"),
        (["predict", str(tmp_path), "-o", out], "is a folder, not a model file; it holds garbage.keras"),
        (["predict", str(tmp_path / "sm"), "-o", out], "is a TensorFlow SavedModel folder"),
        (["evaluate", str(tmp_path / "sm"), "--output-dir", str(tmp_path / "r")], "save it again"),
        (["train", "-o", str(tmp_path / "m.h5")], "--output must end in .keras"),
        (["train", "-o", str(tmp_path / "no" / "m.keras")], "does not exist"),
    ]
    for argv, message in cases:
        rc, lines = in_process(argv, capsys)
        assert rc == 1 and len(lines) == 1, (argv, lines)
        assert lines[0].startswith(f"mcbridge {argv[0]}: error: ") and message in lines[0], (argv, lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.keras", "garbage.npy", "sm", "two.npz", "x.npy"]


def test_debug_shows_the_traceback(tmp_path, capsys):
    from mcbridge import cli

    for argv in (["--debug", "predict", str(tmp_path / "m.keras"), "-o", str(tmp_path / "o.npz")],
                 ["predict", str(tmp_path / "m.keras"), "-o", str(tmp_path / "o.npz"), "--debug"]):
        with pytest.raises(cli.UserError, match="does not exist"):
            cli.main(argv)
    proc = run("--debug", "predict", str(tmp_path / "m.keras"), "-o", str(tmp_path / "o.npz"), check=False,
               process=True)  # (the interpreter prints the traceback; the missing file fails before TensorFlow)
    assert proc.returncode == 1 and "Traceback (most recent call last)" in proc.stderr


def test_help_and_usage_errors_import_no_tensorflow():
    code = """
import sys
from mcbridge import cli
for argv in (["--help"], ["predict", "--help"], ["predict", "m.keras", "-o", "o.npz", "--n-samples", "-3"]):
    try:
        cli.main(argv)
    except SystemExit:
        pass
print("LOADED", sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "LOADED []" in proc.stdout, proc.stdout + proc.stderr


def test_ctrl_c_during_training_writes_nothing(tmp_path, capsys, monkeypatch):
    from mcbridge import cli

    target = tmp_path / "m.keras"
    target.write_bytes(b"old model")

    def interrupted_fit(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_fit", interrupted_fit)
    rc, lines = in_process(["train", "--dataset", "digits", "--limit", "20", "-o", str(target)], capsys)
    assert rc == 130 and lines == ["mcbridge: interrupted; no output was written."]
    assert target.read_bytes() == b"old model" and os.listdir(tmp_path) == ["m.keras"]


def test_interrupted_save_keeps_the_old_file(tmp_path):
    from mcbridge import cli

    target = tmp_path / "samples.npz"
    target.write_bytes(b"old")

    def save(tmp):
        with open(tmp, "wb") as f:
            f.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cli._save_atomic(str(target), save)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["samples.npz"]


def _lambda_model(path, sentinel, monkeypatch):
    import keras

    monkeypatch.setenv("MCBRIDGE_TEST_SENTINEL", str(sentinel))
    inputs = keras.Input((8, 8, 1))
    # Code stored in the model file (self-contained): it creates a file when it runs.
    code = lambda t: (__import__("pathlib").Path(__import__("os").environ["MCBRIDGE_TEST_SENTINEL"]).touch(), t)[1]  # noqa: E731
    touched = keras.layers.Lambda(code, output_shape=(8, 8, 1))(inputs)
    h = keras.layers.Dropout(0.5)(keras.layers.Flatten()(touched))
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h)).save(path)
    if os.path.exists(sentinel):
        os.remove(sentinel)  # building the model ran the lambda here; loading must not


def test_lambda_model_is_refused_without_running_its_code(tmp_path, capsys, monkeypatch):
    import mcbridge

    model_path, sentinel = tmp_path / "lambda.keras", tmp_path / "code-ran"
    _lambda_model(model_path, sentinel, monkeypatch)
    with pytest.raises(ValueError, match="holds Python code .* refused.*safe_mode=False"):
        mcbridge.load_model(model_path)
    rc, lines = in_process(["predict", str(model_path), "-o", str(tmp_path / "o.npz")], capsys)
    assert rc == 1 and len(lines) == 1 and "--unsafe-load" in lines[0]
    assert not sentinel.exists()
    # The explicit opt-in loads it, and the file's code does run.
    model = mcbridge.load_model(model_path, safe_mode=False)
    model(np.zeros((1, 8, 8, 1), np.float32))
    assert sentinel.exists()


def test_unsafe_load_flag_loads_a_trusted_lambda_model(tmp_path, capsys, monkeypatch):
    model_path, sentinel = tmp_path / "lambda.keras", tmp_path / "code-ran"
    _lambda_model(model_path, sentinel, monkeypatch)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32))
    rc, lines = in_process(["predict", str(model_path), "--unsafe-load", "-i", str(tmp_path / "x.npy"),
                            "--n-samples", "2", "-q", "-o", str(tmp_path / "o.npz")], capsys)
    assert rc == 0 and (tmp_path / "o.npz").is_file()


def test_labels_and_empty_inputs(trained, tmp_path, capsys):
    x = np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32)
    np.savez(tmp_path / "bad_y.npz", x=x, y=np.array([0, 1, 12]))
    rc, lines = in_process(["predict", str(trained), "-i", str(tmp_path / "bad_y.npz"), "-q",
                            "-o", str(tmp_path / "o.npz")], capsys)
    assert rc == 1 and len(lines) == 1 and "Expected class labels in 0..9" in lines[0]
    np.savez(tmp_path / "short_y.npz", x=x, y=np.array([0, 1]))
    rc, lines = in_process(["predict", str(trained), "-i", str(tmp_path / "short_y.npz"), "-q",
                            "-o", str(tmp_path / "o.npz")], capsys)
    assert rc == 1 and "Expected 3 labels" in lines[0]
    assert not (tmp_path / "o.npz").exists()
    np.save(tmp_path / "empty.npy", np.zeros((0, 8, 8, 1), np.float32))
    rc, _ = in_process(["predict", str(trained), "-i", str(tmp_path / "empty.npy"), "--n-samples", "4", "-q",
                        "-o", str(tmp_path / "e.arrow")], capsys)
    assert rc == 0
    from mcbridge import read_arrow

    assert read_arrow(tmp_path / "e.arrow").samples.shape == (0, 10, 4)


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


def test_predict_tolerance_samples_adaptively(trained, tmp_path):
    import mcbridge
    from mcbridge.datasets import load_digits

    x = load_digits()[1][0][:30]
    np.save(tmp_path / "x.npy", x)
    out = run("predict", str(trained), "-i", str(tmp_path / "x.npy"), "--n-samples", "40", "--seed", "3",
              "--tolerance", "0.02", "--min-samples", "5", "-o", str(tmp_path / "a.npz"), "-q")
    assert "tolerance 0.02" in out.stdout and "MC standard error per input" in out.stdout
    ref = mcbridge.mc_predict(mcbridge.load_model(trained), x, n_samples=40, seed=3, tolerance=0.02, min_samples=5)
    with np.load(tmp_path / "a.npz") as z:
        np.testing.assert_array_equal(z["n_used"], ref.n_used)
    bad = run("predict", str(trained), "-i", str(tmp_path / "x.npy"), "--tolerance", "0.02",
              "-o", str(tmp_path / "a.arrow"), "-q", check=False)
    assert bad.returncode == 1 and "--tolerance and --class-margin write .npz" in bad.stderr
    out = run("predict", str(trained), "-i", str(tmp_path / "x.npy"), "--n-samples", "40", "--seed", "3",
              "--class-margin", "2", "--min-samples", "5", "-o", str(tmp_path / "c.npz"), "-q")
    assert "class margin 2" in out.stdout
    ref = mcbridge.mc_predict(mcbridge.load_model(trained), x, n_samples=40, seed=3, class_margin=2, min_samples=5)
    with np.load(tmp_path / "c.npz") as z:
        np.testing.assert_array_equal(z["n_used"], ref.n_used)


def test_keras_starts_without_the_packages_the_command_line_never_uses():
    """Keras imports scikit-learn, pandas and matplotlib if installed; the command line leaves them out (start-up)."""
    code = (
        "import sys\n"
        "from mcbridge.cli import _KERAS_OPTIONAL, _import_keras_lean\n"
        "_import_keras_lean()\n"
        "print(sorted(m for m in _KERAS_OPTIONAL if m in sys.modules), 'keras' in sys.modules)\n"
        "import pandas, sklearn.datasets\n"  # (later imports work as usual)
        "print(sklearn.datasets.load_digits().images.shape)\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("LD_LIBRARY_PATH", None)  # (an embedded R started by earlier tests sets it)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[] True", "(1797, 8, 8)"]
