"""mc_predict_spark: the same numbers as mc_predict for the same seed and keys, whatever the partitioning.

One Spark session (local[2]) for the whole test run; skipped where pyspark
or Java is missing (the `spark` extra, installed by scripts/setup.sh).
"""

import os
import shutil
import sys

import numpy as np
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("Java is not installed (scripts/setup.sh installs openjdk-17-jre-headless)",
                allow_module_level=True)

import mcbridge  # noqa: E402

# float32 tolerance: Arrow batches of other sizes sum in another order.
CLOSE = dict(rtol=0, atol=1e-5)


@pytest.fixture(scope="session")
def spark():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("mcbridge-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "3")
        .config("spark.executorEnv.PYTHONPATH", os.environ.get("PYTHONPATH", ""))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16,
                               padding="same", seed=1)
    path = tmp_path_factory.mktemp("spark") / "cnn.keras"
    model.save(path)
    x = np.random.default_rng(2).random((11, 8, 8, 1), dtype=np.float32)
    return path, x


def _frame(spark, x, order):
    rows = [(int(i), x[i].reshape(-1).tolist(), f"item{i}") for i in order]
    return spark.createDataFrame(rows, "id long, features array<float>, name string")


def test_same_numbers_as_mc_predict_whatever_the_partitioning(spark, saved):
    from mcbridge.spark import mc_predict_spark

    path, x = saved
    ref = mcbridge.mc_predict(mcbridge.load_model(path), x, n_samples=5, seed=3)
    order = np.random.default_rng(0).permutation(len(x))
    outs = []
    for parts in (1, 3):
        df = _frame(spark, x, order).repartition(parts)
        out = mc_predict_spark(df, path, input_col="features", key_col="id", n_samples=5, seed=3,
                               keep_samples=True, batch_size=2, keep_columns=["name"])
        rows = sorted(out.collect(), key=lambda r: r["id"])
        assert [r["id"] for r in rows] == list(range(11))
        assert [r["name"] for r in rows] == [f"item{i}" for i in range(11)]
        outs.append(rows)
        np.testing.assert_allclose(np.array([r["samples"] for r in rows]), ref.samples, **CLOSE)
        np.testing.assert_allclose(np.array([r["mean"] for r in rows]), ref.mean, **CLOSE)
        np.testing.assert_allclose([r["mutual_information"] for r in rows], ref.mutual_information(), atol=1e-4)
        assert [r["prediction"] for r in rows] == list(ref.predicted_class)
    assert out.columns == ["id", "name", "prediction", "mean", "variance", "predictive_entropy",
                           "mutual_information", "variation_ratio", "samples"]


def test_arguments_are_checked_on_the_driver(spark, saved):
    from mcbridge.spark import mc_predict_spark

    path, x = saved
    df = _frame(spark, x, range(3))
    with pytest.raises(ValueError, match="argument `input_col`"):
        mc_predict_spark(df, path, input_col="pixels", key_col="id")
    with pytest.raises(ValueError, match="integer column"):
        mc_predict_spark(df, path, input_col="features", key_col="name")
    with pytest.raises(ValueError, match="n_samples"):
        mc_predict_spark(df, path, input_col="features", key_col="id", n_samples=0)


def test_cli_runs_the_job_on_parquet(spark, saved, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mcbridge import cli

    path, x = saved
    table = pa.table({"id": pa.array(np.arange(11), pa.int64()),
                      "features": pa.array([row.reshape(-1).tolist() for row in x], pa.list_(pa.float32()))})
    pq.write_table(table, tmp_path / "in.parquet")
    out = tmp_path / "preds.parquet"
    assert cli.main(["predict", str(path), "--input", str(tmp_path / "in.parquet"), "--input-col", "features",
                     "--key-col", "id", "--output", str(out), "--spark", "local[2]", "--n-samples", "4",
                     "--seed", "5", "-q"]) == 0
    got = pq.read_table(out).sort_by("id")  # a folder of part files, as Spark writes
    ref = mcbridge.mc_predict(mcbridge.load_model(path), x, n_samples=4, seed=5)
    mean = np.asarray(got["mean"].combine_chunks().flatten()).reshape(11, 3)
    np.testing.assert_allclose(mean, ref.mean, **CLOSE)
    assert spark.sparkContext._jsc is not None  # the shared session is still running


def _three_rows(spark, x):
    return _frame(spark, x, range(3))


def test_a_local_session_started_without_pyspark_python_uses_this_python(spark, saved, monkeypatch):
    """A notebook starts Spark first: its workers would run `python3` from the PATH, without mcbridge."""
    from mcbridge.spark import mc_predict_spark

    path, x = saved
    sc = spark.sparkContext
    monkeypatch.delenv("PYSPARK_PYTHON")
    monkeypatch.delenv("PYSPARK_DRIVER_PYTHON", raising=False)
    monkeypatch.setattr(sc, "pythonExec", "python3")  # what SparkContext reads without PYSPARK_PYTHON
    out = mc_predict_spark(_three_rows(spark, x), path, input_col="features", key_col="id", n_samples=2, seed=1)
    assert sc.pythonExec == sys.executable
    assert os.environ["PYSPARK_PYTHON"] == os.environ["PYSPARK_DRIVER_PYTHON"] == sys.executable
    assert sorted(r["id"] for r in out.collect()) == [0, 1, 2]


def test_a_set_pyspark_python_is_kept(spark, monkeypatch):
    from mcbridge.spark import use_this_python

    monkeypatch.setenv("PYSPARK_PYTHON", "/opt/py/bin/python")
    monkeypatch.setattr(spark.sparkContext, "pythonExec", "/opt/py/bin/python")
    assert use_this_python(spark) is False
    assert spark.sparkContext.pythonExec == "/opt/py/bin/python"


def test_workers_without_mcbridge_say_what_to_do(tmp_path):
    """The function Spark ships runs in a Python without mcbridge (as on a cluster without it): it says what to do.

    It is unpickled and called in a fresh Python where `import mcbridge`
    fails, as a worker does; the message is what the Spark job's error shows.
    """
    import subprocess

    from pyspark import cloudpickle

    from mcbridge import spark as mspark

    fn = mspark._worker_function({"model_path": "m.keras"}, mspark._NO_MCBRIDGE)
    (tmp_path / "fn.pkl").write_bytes(cloudpickle.dumps(fn))
    code = ("import pickle, sys; sys.modules['mcbridge'] = None\n"
            f"fn = pickle.loads(open({str(tmp_path / 'fn.pkl')!r}, 'rb').read())\n"
            "fn(iter([]))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: The Spark worker's Python (" + sys.executable), last
    assert "cannot import mcbridge" in last and "pip install 'mcbridge[spark]'" in last and "PYSPARK_PYTHON" in last


def test_adaptive_sampling_gives_the_counts_of_mc_predict(spark, saved):
    from mcbridge.spark import mc_predict_spark

    path, x = saved
    model = mcbridge.load_model(path)
    fixed = mcbridge.mc_predict(model, x, n_samples=20, seed=3)
    tol = float(np.median(fixed.mc_standard_error().max(axis=1)))
    ref = mcbridge.mc_predict(model, x, n_samples=20, seed=3, tolerance=tol, min_samples=5, batch_size=2)
    out = mc_predict_spark(_frame(spark, x, range(len(x))), path, input_col="features", key_col="id",
                           n_samples=20, seed=3, batch_size=2, tolerance=tol, min_samples=5)
    rows = sorted(out.collect(), key=lambda r: r["id"])
    assert [r["n_used"] for r in rows] == ref.n_used.tolist()
    np.testing.assert_allclose([r["mutual_information"] for r in rows], ref.mutual_information(), atol=1e-4)
    ref = mcbridge.mc_predict(model, x, n_samples=20, seed=3, class_margin=2, min_samples=5, batch_size=2)
    out = mc_predict_spark(_frame(spark, x, range(len(x))), path, input_col="features", key_col="id",
                           n_samples=20, seed=3, batch_size=2, class_margin=2, min_samples=5)
    assert [r["n_used"] for r in sorted(out.collect(), key=lambda r: r["id"])] == ref.n_used.tolist()


def test_several_inputs_by_name_and_a_dense_output(spark, tmp_path):
    """Two input columns (a dict from input name to column), an output (batch, 5, 3): per-position maps."""
    import keras

    from mcbridge.spark import mc_predict_spark

    seq, tab = keras.Input((5, 2), name="seq"), keras.Input((3,), name="tab")
    h = keras.layers.RepeatVector(5)(keras.layers.Dense(2)(tab))
    h = keras.layers.Dropout(0.5)(keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([seq, h])))
    model = keras.Model([seq, tab], keras.layers.Dense(3, activation="softmax", name="tags")(h))
    path = tmp_path / "tagger.keras"
    model.save(path)
    rng = np.random.default_rng(4)
    xa, xb = rng.random((7, 5, 2), dtype=np.float32), rng.random((7, 3), dtype=np.float32)
    rows = [(i, xa[i].reshape(-1).tolist(), xb[i].tolist()) for i in range(7)]
    df = spark.createDataFrame(rows, "id long, a array<float>, b array<float>")
    out = mc_predict_spark(df, path, input_col={"tab": "b", "seq": "a"}, key_col="id", n_samples=4, seed=2,
                           keep_samples=True, batch_size=2)
    assert out.schema["mean"].metadata == {"mcbridge.dims": "5", "mcbridge.classes": "3"}
    got = sorted(out.collect(), key=lambda r: r["id"])
    ref = mcbridge.mc_predict(mcbridge.load_model(path), [xa, xb], n_samples=4, seed=2)
    np.testing.assert_allclose(np.array([r["samples"] for r in got]).reshape(7, 5, 3, 4), ref.samples, **CLOSE)
    np.testing.assert_allclose(np.array([r["mean"] for r in got]).reshape(7, 5, 3), ref.mean, **CLOSE)
    np.testing.assert_allclose(np.array([r["mutual_information"] for r in got]), ref.mutual_information(), atol=1e-4)
    assert np.array_equal(np.array([r["prediction"] for r in got]), ref.predicted_class)

    # driver-side errors, before any job: columns that do not match the inputs, several outputs
    for bad, message in [("a", r"2 inputs \('seq', 'tab'\): pass a list of 2 columns"),
                         ({"seq": "a"}, r"missing \['tab'\]"), (["a", "id"], "array<float> columns"),
                         (["a", "b", "a"], "pass one column name, a list of 2")]:
        with pytest.raises(ValueError, match=message):
            mc_predict_spark(df, path, input_col=bad, key_col="id")
    two = keras.Model(model.inputs, [model.outputs[0], keras.layers.Dense(1, name="score")(h)])
    two.save(tmp_path / "two.keras")
    with pytest.raises(ValueError, match=r"2 outputs \(tags, score\).*one model per output"):
        mc_predict_spark(df, tmp_path / "two.keras", input_col=["a", "b"], key_col="id")
