"""predict_to_file: streamed summaries in Parquet / Arrow IPC, the same numbers as mc_predict."""

import os
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mcbridge
from mcbridge import stream

# float32 tolerance: blocks and batches of other shapes sum in another order.
CLOSE = dict(rtol=0, atol=1e-5)


def _read(path):
    if str(path).endswith(".parquet"):
        return pq.read_table(path)
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_stream(source).read_all()  # .arrow: an IPC stream


def _matrix(column):
    flat = column.combine_chunks()
    while pa.types.is_fixed_size_list(flat.type):
        flat = flat.flatten()
    return np.asarray(flat, dtype=np.float32).reshape(len(column), -1)


@pytest.fixture
def x12():
    return np.random.default_rng(1).random((12, 8, 8, 1), dtype=np.float32)


def test_parquet_rows_match_mc_predict(cnn, x12, tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "_BLOCK_BYTES", 1)  # one batch per written block: several blocks
    ref = mcbridge.mc_predict(cnn, x12, n_samples=6, seed=3)
    path = mcbridge.predict_to_file(cnn, x12, tmp_path / "p.parquet", n_samples=6, batch_size=5,
                                    seed=3, keep_samples=True)
    assert path == tmp_path / "p.parquet"
    table = _read(path)
    assert pq.ParquetFile(path).metadata.num_row_groups > 1
    assert table.column_names == ["index", "prediction", "mean", "variance", "predictive_entropy",
                                  "mutual_information", "variation_ratio", "samples"]
    assert table.schema.field("index").type == pa.int64()
    assert table.schema.field("prediction").type == pa.int32()
    assert table.schema.field("mean").type == pa.list_(pa.float32(), 3)
    assert table.schema.field("samples").type == pa.list_(pa.list_(pa.float32(), 6), 3)
    assert table.schema.metadata[b"mcbridge.n_samples"] == b"6"
    assert table.schema.metadata[b"mcbridge.seed"] == b"3"
    np.testing.assert_array_equal(table["index"].to_numpy(), np.arange(12))
    np.testing.assert_allclose(_matrix(table["samples"]).reshape(12, 3, 6), ref.samples, **CLOSE)
    np.testing.assert_allclose(_matrix(table["mean"]), ref.mean, **CLOSE)
    np.testing.assert_allclose(_matrix(table["variance"]), ref.variance, **CLOSE)
    for name in ["predictive_entropy", "mutual_information", "variation_ratio"]:
        np.testing.assert_allclose(table[name].to_numpy(), getattr(ref, name)(), atol=1e-4)
    np.testing.assert_array_equal(table["prediction"].to_numpy(), ref.predicted_class)


def test_bfloat16_rows_match_mc_predict_in_bfloat16(cnn, x12, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (a CPU without bfloat16 computes float32)
        ref = mcbridge.mc_predict(cnn, x12, n_samples=6, seed=3, precision="bfloat16")
        path = mcbridge.predict_to_file(cnn, x12, tmp_path / "b.arrow", n_samples=6, batch_size=5, seed=3,
                                        keep_samples=True, precision="bfloat16")
    # bfloat16 keeps 8 significant bits: batches of another shape may round otherwise.
    np.testing.assert_allclose(_matrix(_read(path)["samples"]).reshape(12, 3, 6), ref.samples, rtol=0, atol=2e-2)
    with pytest.raises(ValueError, match="precision"):
        mcbridge.predict_to_file(cnn, x12, tmp_path / "h.arrow", precision="float16")
    assert not (tmp_path / "h.arrow").exists()


def test_arrow_from_npy_and_blocks_give_the_same_rows(cnn, x12, tmp_path):
    np.save(tmp_path / "x.npy", x12)
    a = mcbridge.predict_to_file(cnn, tmp_path / "x.npy", tmp_path / "a.arrow", n_samples=5, seed=9)
    blocks = (x12[i : i + 5] for i in range(0, 12, 5))  # a generator of uneven blocks
    seen = []
    b = mcbridge.predict_to_file(cnn, blocks, tmp_path / "b.parquet", n_samples=5, seed=9, batch_size=2,
                                 progress=seen.append)
    ta, tb = _read(a), _read(b)
    assert a.read_bytes()[:6] != b"ARROW1"  # an IPC stream (R's nanoarrow reads it), not the file format
    assert "samples" not in ta.column_names
    assert seen[-1] == 12
    np.testing.assert_array_equal(ta["index"].to_numpy(), tb["index"].to_numpy())
    np.testing.assert_allclose(_matrix(ta["mean"]), _matrix(tb["mean"]), **CLOSE)
    np.testing.assert_allclose(ta["mutual_information"].to_numpy(), tb["mutual_information"].to_numpy(),
                               atol=1e-4)


def test_first_index_continues_the_keys(cnn, x12, tmp_path):
    whole = _read(mcbridge.predict_to_file(cnn, x12, tmp_path / "w.parquet", n_samples=4, seed=2))
    tail = _read(mcbridge.predict_to_file(cnn, x12[7:], tmp_path / "t.parquet", n_samples=4, seed=2,
                                          first_index=7))
    np.testing.assert_array_equal(tail["index"].to_numpy(), np.arange(7, 12))
    np.testing.assert_allclose(_matrix(tail["mean"]), _matrix(whole["mean"])[7:], **CLOSE)


def test_an_interrupted_run_leaves_no_file(cnn, x12, tmp_path):
    def blocks():
        yield x12[:4]
        raise KeyboardInterrupt

    target = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt):
        mcbridge.predict_to_file(cnn, blocks(), target, n_samples=3, seed=1)
    assert os.listdir(tmp_path) == []
    bad = x12.copy()
    bad[9] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        mcbridge.predict_to_file(cnn, (bad[i : i + 4] for i in range(0, 12, 4)), target, n_samples=3)
    assert os.listdir(tmp_path) == []


def test_arguments_are_checked(cnn, x12, tmp_path):
    with pytest.raises(ValueError, match="Invalid value received for argument `path`"):
        mcbridge.predict_to_file(cnn, x12, tmp_path / "out.csv")
    with pytest.raises(ValueError, match="Invalid value received for argument `data`"):
        mcbridge.predict_to_file(cnn, str(tmp_path / "x.csv"), tmp_path / "out.arrow")
    with pytest.raises(TypeError, match="argument `data`"):
        mcbridge.predict_to_file(cnn, 3.5, tmp_path / "out.arrow")
    with pytest.raises(ValueError, match="n_samples"):
        mcbridge.predict_to_file(cnn, x12, tmp_path / "out.arrow", n_samples=0)
    with pytest.raises(ValueError, match="at least one input"):
        mcbridge.predict_to_file(cnn, iter([]), tmp_path / "out.arrow")
    assert os.listdir(tmp_path) == []


def test_duckdb_example_ranks_by_mutual_information(cnn, x12, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    import importlib.util
    from pathlib import Path

    path = mcbridge.predict_to_file(cnn, x12, tmp_path / "p.parquet", n_samples=5, seed=4)
    spec = importlib.util.spec_from_file_location(
        "duckdb_example", Path(__file__).resolve().parent.parent / "examples" / "query_parquet_duckdb.py"
    )
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    top = example.top_uncertain(path, per_class=2)  # rows: (prediction, rank, index, mutual_information)
    table = _read(path)
    pred, mi = table["prediction"].to_numpy(), table["mutual_information"].to_numpy()
    for c in np.unique(pred):
        want = np.argsort(-mi[pred == c], kind="stable")[:2]
        got = [row[2] for row in top if row[0] == c]
        np.testing.assert_array_equal(got, np.flatnonzero(pred == c)[want])
    assert duckdb.__version__


def test_missing_folder_is_named_not_the_temporary_file(cnn, x12, tmp_path):
    target = tmp_path / "runs" / "today" / "preds.parquet"
    with pytest.raises(FileNotFoundError) as err:
        mcbridge.predict_to_file(cnn, x12, target, n_samples=2)
    text = str(err.value)
    assert repr(str(target.parent)) in text and "does not exist" in text and "os.makedirs" in text
    assert ".tmp" not in text
    (tmp_path / "file").write_text("")
    with pytest.raises(FileNotFoundError, match="is a file, not a folder"):
        mcbridge.predict_to_file(cnn, x12, tmp_path / "file" / "p.arrow", n_samples=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_dense_outputs_stream_their_maps_one_row_per_input(tmp_path):
    import keras
    import pyarrow.parquet as pq

    i = keras.Input((6, 5, 1))
    h = keras.layers.Dropout(0.5)(keras.layers.Conv2D(4, 3, padding="same", activation="relu")(i))
    model = keras.Model(i, keras.layers.Conv2D(3, 1, activation="softmax")(h))
    x = np.random.default_rng(0).random((9, 6, 5, 1), dtype=np.float32)
    ref = mcbridge.mc_predict(model, x, n_samples=4, seed=1)
    path = mcbridge.predict_to_file(model, x, tmp_path / "seg.parquet", n_samples=4, seed=1, keep_samples=True,
                                    progress=False)
    table = pq.read_table(path)
    assert table.schema.metadata[b"mcbridge.dims"] == b"6,5"
    np.testing.assert_array_equal(np.stack(table["prediction"].to_numpy(zero_copy_only=False)),
                                  ref.predicted_class.reshape(9, -1))
    np.testing.assert_allclose(np.stack(table["mutual_information"].to_numpy(zero_copy_only=False)),
                               ref.mutual_information().reshape(9, -1), rtol=1e-4, atol=1e-6)
    samples = np.array(table["samples"].to_pylist(), dtype=np.float32)  # (rows, positions x classes, samples)
    np.testing.assert_allclose(samples, ref.samples.reshape(9, -1, 4), rtol=1e-5, atol=1e-6)
