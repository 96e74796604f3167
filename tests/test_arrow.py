"""Tests for mcbridge.arrow: the Arrow wire format (see docs/ARROW.md)."""

import json
import os

import numpy as np
import pyarrow as pa
import pytest

import mcbridge
from mcbridge import arrow


def index_array(shape=(4, 3, 5), dtype=np.float32):
    """Value encodes its 0-based index: 100*i + 10*j + k."""
    return np.fromfunction(lambda i, j, k: 100 * i + 10 * j + k, shape, dtype=dtype)


def probs(n=6, c=4, s=5, seed=0):
    p = np.random.default_rng(seed).dirichlet(np.ones(c), size=(n, s))  # (n, s, c)
    return np.asfortranarray(p.transpose(0, 2, 1).astype(np.float32))


def test_schema_and_column_major_values():
    a = index_array()
    batch = arrow.to_arrow(mcbridge.MCResult(a))
    md = {k.decode(): v.decode() for k, v in batch.schema.metadata.items()}
    assert md["mcbridge:kind"] == "mc_samples"
    assert json.loads(md["mcbridge:shape"]) == [4, 3, 5]
    assert json.loads(md["mcbridge:dim_names"]) == ["n", "classes", "samples"]
    assert md["mcbridge:order"] == "F" and md["mcbridge:format"] == "1"
    assert batch.schema.names == ["values"]
    assert batch.column(0).type == pa.float32()
    vals = batch.column(0).to_numpy()
    # first index fastest: value at i + n*k + n*c*s
    i, k, s = 2, 1, 3
    assert vals[i + 4 * k + 4 * 3 * s] == a[i, k, s] == 213


def test_export_is_zero_copy_for_fortran_samples():
    res = mcbridge.MCResult(probs())
    batch = arrow.to_arrow(res)
    assert batch.column(0).buffers()[1].address == res.samples.ctypes.data


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8", "int64", "bool"])
@pytest.mark.parametrize("rows_per_batch", [None, 1, 3])
def test_file_round_trip_arrays(tmp_path, dtype, rows_per_batch):
    a = (index_array((7, 3, 2), np.float64) % 7).astype(dtype)
    path = arrow.write_arrow(a, tmp_path / "a.arrow", rows_per_batch=rows_per_batch)
    b = arrow.read_arrow(path)
    assert b.dtype == np.dtype(dtype) and b.shape == a.shape
    assert np.array_equal(a, b) and b.flags.f_contiguous and b.flags.writeable
    n_batches = sum(1 for _ in pa.ipc.open_stream(str(path)))
    assert n_batches == (1 if rows_per_batch is None else -(-7 // rows_per_batch))


def test_mc_result_round_trip_in_memory_and_file(tmp_path):
    res = mcbridge.MCResult(probs())
    for rpb in (None, 2):
        data = arrow.to_arrow(res, rows_per_batch=rpb)
        back = arrow.from_arrow(data)
        assert isinstance(back, mcbridge.MCResult)
        assert np.array_equal(back.samples, res.samples)
    arrow.write_arrow(res, tmp_path / "r.arrow", rows_per_batch=4)
    back = arrow.read_arrow(tmp_path / "r.arrow")
    assert isinstance(back, mcbridge.MCResult)
    assert back.samples.dtype == np.float32
    np.testing.assert_array_equal(back.samples, res.samples)
    np.testing.assert_allclose(back.mutual_information(), res.mutual_information())


def test_float64_samples_become_float32():
    batch = arrow.to_arrow(mcbridge.MCResult(probs().astype(np.float64)))
    assert batch.column(0).type == pa.float32()


def test_plain_pyarrow_reads_files_without_mcbridge(tmp_path):
    a = index_array()
    arrow.write_arrow(mcbridge.MCResult(a), tmp_path / "x.arrow")
    t = pa.ipc.open_stream(str(tmp_path / "x.arrow")).read_all()
    shape = json.loads(t.schema.metadata[b"mcbridge:shape"])
    b = t.column("values").to_numpy().reshape(shape, order="F")
    assert np.array_equal(a, b)


def test_reads_ipc_file_format_and_foreign_data(tmp_path):
    a = index_array(dtype=np.float64)
    batch = arrow.to_arrow(a)
    with pa.OSFile(str(tmp_path / "f.arrow"), "wb") as f:
        with pa.ipc.new_file(f, batch.schema) as w:
            w.write_batch(batch)
    assert np.array_equal(arrow.read_arrow(tmp_path / "f.arrow"), a)
    # no mcbridge metadata: a 1-d array of the first column
    t = pa.table({"v": [1.0, 2.0, 3.0]})
    with pa.OSFile(str(tmp_path / "plain.arrow"), "wb") as f:
        with pa.ipc.new_stream(f, t.schema) as w:
            w.write_table(t)
    assert arrow.read_arrow(tmp_path / "plain.arrow").tolist() == [1.0, 2.0, 3.0]


def test_streaming_writer_blocks_and_unknown_row_count(tmp_path):
    a = probs(n=10)
    with arrow.ArrowWriter(tmp_path / "s.arrow", (None, 4, 5)) as w:
        for i in range(0, 10, 4):
            w.write(np.ascontiguousarray(a[i : i + 4]))  # C-ordered blocks are fine
    back = arrow.read_arrow(tmp_path / "s.arrow")
    assert back.samples.shape == (10, 4, 5)
    assert np.array_equal(back.samples, a)


def test_writes_are_atomic(tmp_path):
    target = tmp_path / "r.arrow"
    arrow.write_arrow(np.arange(3), target)
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        with arrow.ArrowWriter(target, (4, 2), kind="array") as w:
            w.write(np.ones((2, 2)))
            raise RuntimeError("boom")
    with pytest.raises(ValueError, match="declared 4 rows"):
        with arrow.ArrowWriter(target, (4, 2), kind="array") as w:
            w.write(np.ones((2, 2)))
    with pytest.raises(ValueError, match="Expected blocks"):
        with arrow.ArrowWriter(target, (4, 2), kind="array") as w:
            w.write(np.ones((2, 3)))
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["r.arrow"]


def test_c_data_interface_round_trip():
    from pyarrow.cffi import ffi

    a = index_array()
    c_array = ffi.new("struct ArrowArray*")
    c_schema = ffi.new("struct ArrowSchema*")
    addr = lambda p: int(ffi.cast("uintptr_t", p))  # noqa: E731
    arrow.export_to_c(a, str(addr(c_array)), addr(c_schema))
    back = arrow.import_from_c(addr(c_array), str(addr(c_schema)))
    assert np.array_equal(back, a) and back.flags.f_contiguous


def test_invalid_input(tmp_path):
    with pytest.raises(TypeError, match="dtype"):
        arrow.to_arrow(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="n, classes, samples"):
        arrow.to_arrow(np.zeros((2, 2)), kind="mc_samples")
    with pytest.raises(ValueError, match="kind"):
        arrow.to_arrow(np.zeros(2), kind="bogus")
    with pytest.raises(ValueError, match="rows_per_batch"):
        arrow.to_arrow(np.zeros((2, 2)), rows_per_batch=0)
    with pytest.raises(ValueError, match="rows_per_batch"):
        arrow.write_arrow(np.zeros((2, 2)), tmp_path / "z.arrow", rows_per_batch=0)
    assert not (tmp_path / "z.arrow").exists()
    bad = pa.record_batch(
        [pa.array([1.0, None])],
        schema=arrow.make_schema([2], np.float64),
    )
    with pytest.raises(ValueError, match="nulls"):
        arrow.from_arrow(bad)
