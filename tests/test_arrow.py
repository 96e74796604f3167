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


def test_class_names_travel_in_memory_files_and_c_interface(tmp_path):
    from pyarrow.cffi import ffi

    names = ["T-shirt/top", "Trouser", "Pull\u00f6ver", 'say "hi"']
    res = mcbridge.MCResult(probs(), class_names=names)
    batch = arrow.to_arrow(res)
    assert json.loads(batch.schema.metadata[b"mcbridge:class_names"]) == names
    assert arrow.from_arrow(batch).class_names == tuple(names)
    assert arrow.from_arrow(arrow.to_arrow(res, rows_per_batch=2)).class_names == tuple(names)
    arrow.write_arrow(res, tmp_path / "r.arrow", rows_per_batch=4)
    back = arrow.read_arrow(tmp_path / "r.arrow")
    assert back.class_names == tuple(names)
    np.testing.assert_array_equal(back.samples, res.samples)
    c_array = ffi.new("struct ArrowArray*")
    c_schema = ffi.new("struct ArrowSchema*")
    addr = lambda p: int(ffi.cast("uintptr_t", p))  # noqa: E731
    arrow.export_to_c(res, addr(c_array), addr(c_schema))
    assert arrow.import_from_c(addr(c_array), addr(c_schema)).class_names == tuple(names)
    # Without names: no key, and None back.
    plain = arrow.to_arrow(mcbridge.MCResult(probs()))
    assert b"mcbridge:class_names" not in plain.schema.metadata
    assert arrow.from_arrow(plain).class_names is None
    # The streaming writer and an explicit override.
    with arrow.ArrowWriter(tmp_path / "w.arrow", (None, 4, 5), class_names=list("abcd")) as w:
        w.write(res.samples[:3])
        w.write(res.samples[3:])
    assert arrow.read_arrow(tmp_path / "w.arrow").class_names == tuple("abcd")
    assert arrow.from_arrow(arrow.to_arrow(res, class_names=list("wxyz"))).class_names == tuple("wxyz")


def test_class_names_are_checked_when_written():
    with pytest.raises(ValueError, match="one name per entry of axis 1"):
        arrow.to_arrow(probs(), kind="mc_samples", class_names=["a", "b"])
    with pytest.raises(TypeError, match="sequence of strings"):
        arrow.make_schema([2, 3], class_names=[1, 2, 3])
    with pytest.raises(ValueError, match="one name per entry of axis 1"):
        arrow.make_schema([6], class_names=["a"])


def test_mc_result_repr_shows_class_names():
    assert "class_names" not in repr(mcbridge.MCResult(probs()))
    text = repr(mcbridge.MCResult(probs(), class_names=["cat", "dog", "bird", "fish"]))
    assert "class_names=['cat', 'dog', 'bird', 'fish']" in text
    many = mcbridge.MCResult(probs(c=12), class_names=[f"c{i}" for i in range(12)])
    assert "'c9', ... (12 in all)]" in repr(many) and "'c10'" not in repr(many)


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


# --------------------------------------------------------------------------
# bad files and bad data: a clear ValueError / TypeError, never a pyarrow
# traceback or a crash, and nothing allocated for a shape the data lacks


def _stream_bytes(schema, batches):
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as w:
        for b in batches:
            w.write_batch(b)
    return sink.getvalue().to_pybytes()


def _with_meta(meta_edit, values=None, type_=pa.float32()):
    """Stream bytes of a (2, 3) mcbridge array whose metadata `meta_edit` changes."""
    schema = arrow.make_schema([2, 3], np.float32)
    meta = {k.decode(): v.decode() for k, v in schema.metadata.items()}
    meta_edit(meta)
    schema = pa.schema([pa.field("values", type_)], metadata=meta)
    col = pa.array(np.arange(6, dtype=np.float32) if values is None else values, type=type_)
    return _stream_bytes(schema, [pa.record_batch([col], schema=schema)])


def _read(tmp_path, data: bytes, name="f.arrow"):
    path = tmp_path / name
    path.write_bytes(data)
    return arrow.read_arrow(path)


def test_read_empty_file(tmp_path):
    with pytest.raises(ValueError, match="is empty"):
        _read(tmp_path, b"")


def test_read_random_bytes(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    with pytest.raises(ValueError, match="not a readable Arrow IPC file"):
        _read(tmp_path, data)


def test_read_missing_file_and_bad_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        arrow.read_arrow(tmp_path / "nope.arrow")
    with pytest.raises(TypeError, match="Expected a file path"):
        arrow.read_arrow(3)
    with pytest.raises(ValueError, match="not a file"):
        arrow.read_arrow(tmp_path)


def test_read_truncated_at_every_point(tmp_path):
    arrow.write_arrow(mcbridge.MCResult(probs(n=3, c=2, s=2)), tmp_path / "ok.arrow", rows_per_batch=2)
    data = (tmp_path / "ok.arrow").read_bytes()
    complete = arrow.read_arrow(tmp_path / "ok.arrow").samples
    for cut in range(0, len(data)):
        try:
            back = _read(tmp_path, data[:cut], "cut.arrow")
        except ValueError:
            continue
        # Only a cut inside the end-of-stream marker leaves all the data.
        assert cut >= len(data) - 8 and np.array_equal(back.samples, complete)


def test_read_foreign_arrow_file_with_several_columns(tmp_path):
    table = pa.table({"a": [1, 2], "b": [3.0, 4.0]})
    with pa.OSFile(str(tmp_path / "t.arrow"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    with pytest.raises(ValueError, match=r"not an mcbridge array: it has 2 columns \['a', 'b'\]"):
        arrow.read_arrow(tmp_path / "t.arrow")


def test_read_foreign_string_column_is_a_type_error(tmp_path):
    table = pa.table({"s": ["x", "y"]})
    with pa.OSFile(str(tmp_path / "s.arrow"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    with pytest.raises(TypeError, match="Received: values of type string"):
        arrow.read_arrow(tmp_path / "s.arrow")


def test_read_shape_disagreeing_with_data(tmp_path):
    data = _with_meta(lambda m: m.update({"mcbridge:shape": "[2, 4]"}))
    with pytest.raises(ValueError, match=r"shape metadata \[2, 4\] needs 8 values but the data holds 6"):
        _read(tmp_path, data)


def test_read_claimed_shape_too_large_is_refused_before_allocation(tmp_path, monkeypatch):
    huge = "[4000000000, 1000000, 1000000]"  # 1.6e22 bytes: np.empty would fail
    data = _with_meta(lambda m: m.update({"mcbridge:shape": huge}))

    def no_alloc(*args, **kwargs):
        raise AssertionError("allocated before checking the shape")

    monkeypatch.setattr(arrow.np, "empty", no_alloc)
    with pytest.raises(ValueError, match="needs 4,000,000,000,000,000,000,000 values but the data holds 6"):
        _read(tmp_path, data)


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda m: m.update({"mcbridge:format": "2"}), "Unknown mcbridge Arrow format version '2'"),
        (lambda m: m.pop("mcbridge:format"), "no `mcbridge:format`"),
        (lambda m: m.update({"mcbridge:kind": "tensor"}), "Unknown `mcbridge:kind`"),
        (lambda m: m.update({"mcbridge:order": "C"}), "Unsupported `mcbridge:order`"),
        (lambda m: m.update({"mcbridge:shape": "[2, "}), "not valid JSON"),
        (lambda m: m.update({"mcbridge:shape": "[2, -3]"}), "non-negative integers"),
        (lambda m: m.update({"mcbridge:shape": "[2, 3.5]"}), "non-negative integers"),
        (lambda m: m.update({"mcbridge:shape": '{"n": 2}'}), "non-negative integers"),
        (lambda m: m.update({"mcbridge:shape": "[2, true]"}), "non-negative integers"),
        (lambda m: m.update({"mcbridge:shape": json.dumps([1] * 40)}), "at most 32"),
        (lambda m: m.pop("mcbridge:shape"), "no `mcbridge:shape`"),
        (lambda m: m.update({"mcbridge:dim_names": '["n"]'}), "one name per axis"),
        (lambda m: m.update({"mcbridge:kind": "mc_samples"}), r"\(n, classes, samples\)"),
        (lambda m: m.update({"mcbridge:class_names": '["a", "b"]'}), "`mcbridge:class_names` must"),
        (lambda m: m.update({"mcbridge:class_names": "[1, 2, 3]"}), "`mcbridge:class_names` must"),
        (lambda m: m.update({"mcbridge:class_names": '"abc"'}), "`mcbridge:class_names` must"),
        (lambda m: m.update({"mcbridge:class_names": '["a", '}), "not valid JSON"),
    ],
    ids=["version", "no-version", "kind", "order", "json", "negative", "fraction", "dict", "bool",
         "ndim", "no-shape", "dim-names", "mc-2d", "class-count", "class-type", "class-str",
         "class-json"],
)
def test_read_bad_metadata(tmp_path, edit, match):
    with pytest.raises(ValueError, match=match):
        _read(tmp_path, _with_meta(edit))


def test_read_nulls_and_wrong_value_types(tmp_path):
    with pytest.raises(ValueError, match="must not contain nulls. Received: 1 null"):
        _read(tmp_path, _with_meta(lambda m: None, values=[0.0, 1.0, None, 3.0, 4.0, 5.0]))
    with pytest.raises(TypeError, match="Received: values of type string"):
        _read(tmp_path, _with_meta(lambda m: None, values=list("abcdef"), type_=pa.string()))
    with pytest.raises(TypeError, match="of type halffloat"):
        _read(tmp_path, _with_meta(lambda m: None, values=np.zeros(6, np.float16), type_=pa.float16()))
    mc = lambda m: m.update({"mcbridge:kind": "mc_samples", "mcbridge:shape": "[1, 2, 3]"})  # noqa: E731
    with pytest.raises(TypeError, match="MC samples must be float32"):
        _read(tmp_path, _with_meta(mc, values=np.arange(6), type_=pa.int64()))


def test_from_arrow_rejects_non_arrow_and_foreign_data():
    with pytest.raises(TypeError, match="Expected a pyarrow RecordBatch"):
        arrow.from_arrow(np.zeros(3))
    with pytest.raises(ValueError, match="not an mcbridge array"):
        arrow.from_arrow(pa.table({"a": [1], "b": [2]}))
    with pytest.raises(TypeError, match="`copy`"):
        arrow.from_arrow(arrow.to_arrow(np.zeros(2)), copy="no")


def test_import_from_c_rejects_bad_addresses_and_foreign_arrays():
    from pyarrow.cffi import ffi

    with pytest.raises(ValueError, match="non-null memory address"):
        arrow.import_from_c(0, 0)
    with pytest.raises(ValueError, match="memory address"):
        arrow.import_from_c("12abc", "1")
    with pytest.raises(TypeError, match="memory address"):
        arrow.import_from_c(1.5, 2)
    with pytest.raises(TypeError, match="memory address"):
        arrow.import_from_c(True, 2)
    c_array, c_schema = ffi.new("struct ArrowArray*"), ffi.new("struct ArrowSchema*")
    addr = lambda p: int(ffi.cast("uintptr_t", p))  # noqa: E731
    pa.array([1.0, 2.0])._export_to_c(addr(c_array), addr(c_schema))  # not a struct array
    with pytest.raises(ValueError, match="not an mcbridge array"):
        arrow.import_from_c(addr(c_array), addr(c_schema))
    table_batch = pa.record_batch({"a": [1], "b": [2]})
    c_array, c_schema = ffi.new("struct ArrowArray*"), ffi.new("struct ArrowSchema*")
    table_batch._export_to_c(addr(c_array), addr(c_schema))
    with pytest.raises(ValueError, match="2 columns"):
        arrow.import_from_c(addr(c_array), addr(c_schema))


# writers: missing or read-only directory, errors mid-write ------------------


def test_write_to_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="directory .* does not exist"):
        arrow.write_arrow(np.zeros(3), tmp_path / "no" / "f.arrow")
    assert os.listdir(tmp_path) == []


def test_write_to_read_only_directory(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere a mode allows: use sysfs, read-only to root too
        target = "/sys/mcbridge-test.arrow"
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        target = tmp_path / "ro" / "f.arrow"
    with pytest.raises(OSError, match="no file can be created in"):
        arrow.write_arrow(np.zeros(3), target)
    assert not os.path.exists(target)


def test_write_over_a_directory_and_bad_path(tmp_path):
    with pytest.raises(IsADirectoryError):
        arrow.write_arrow(np.zeros(3), tmp_path)
    with pytest.raises(TypeError, match="Expected a file path"):
        arrow.write_arrow(np.zeros(3), None)


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_exception_mid_write_keeps_the_old_file(tmp_path, monkeypatch, exc):
    target = tmp_path / "r.arrow"
    arrow.write_arrow(np.arange(6.0), target)
    before = target.read_bytes()
    calls = []

    def failing_batch(schema, flat):
        calls.append(1)
        if len(calls) == 2:
            raise exc("interrupted mid-write")
        return real(schema, flat)

    real = arrow._batch
    monkeypatch.setattr(arrow, "_batch", failing_batch)
    with pytest.raises(exc):
        arrow.write_arrow(np.arange(10.0), target, rows_per_batch=3)
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["r.arrow"]


# property-based: mutated valid files --------------------------------------

hypothesis = pytest.importorskip("hypothesis")  # in the `test` extra
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_VALID = {}


def _valid_file(kind: str) -> bytes:
    """Bytes of a valid file: an MC result in 2 batches, or a 1-batch int array."""
    if kind not in _VALID:
        sink = pa.BufferOutputStream()
        if kind == "mc":
            data = arrow.to_arrow(mcbridge.MCResult(probs(n=3, c=2, s=2)), rows_per_batch=2)
        else:
            data = arrow.to_arrow(np.arange(12, dtype=np.int32).reshape(3, 4))
        batches = data.to_batches() if isinstance(data, pa.Table) else [data]
        with pa.ipc.new_stream(sink, data.schema) as w:
            for b in batches:
                w.write_batch(b)
        _VALID[kind] = sink.getvalue().to_pybytes()
    return _VALID[kind]


def _metadata_edits():
    keys = st.sampled_from(["mcbridge:format", "mcbridge:kind", "mcbridge:shape",
                            "mcbridge:dim_names", "mcbridge:order"])
    values = st.one_of(st.sampled_from(["", "1", "2", "null", "[]", "[3]", "[null, 2, 2]", "[3, 2, 2]",
                                        "[2, 2, 3]", "[1e30, 2, 2]", "[-1, 2, 2]", '["n"]', "F", "C",
                                        "mc_samples", "array", "[9223372036854775807, 9, 9]"]),
                       st.text(max_size=12))
    return st.lists(st.tuples(keys, st.one_of(values, st.none())), min_size=1, max_size=3)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["mc", "array"]),
    cut=st.one_of(st.none(), st.integers(min_value=0)),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), max_size=4),
    edits=st.one_of(st.none(), _metadata_edits()),
)
def test_mutated_files_raise_clear_errors_or_read_back(tmp_path, kind, cut, flips, edits):
    data = _valid_file(kind)
    if edits is not None:  # re-encode with edited metadata (the values stay valid)
        reader = pa.ipc.open_stream(data)
        meta = {k.decode(): v.decode() for k, v in reader.schema.metadata.items()}
        for key, value in edits:
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value
        schema = reader.schema.with_metadata(meta)
        data = _stream_bytes(schema, [b.replace_schema_metadata(meta) for b in reader])
    data = bytearray(data)
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    path = tmp_path / "m.arrow"
    path.write_bytes(bytes(data))
    try:
        back = arrow.read_arrow(path)
    except (ValueError, TypeError) as err:
        assert str(err) and "Traceback" not in str(err)
        return
    arr = back.samples if isinstance(back, mcbridge.MCResult) else back
    assert isinstance(arr, np.ndarray) and arr.dtype.kind in "biuf"


@settings(max_examples=150, deadline=None, database=None)
@given(kind=st.sampled_from(["mc", "array"]), edits=_metadata_edits(),
       route=st.sampled_from(["from_arrow", "import_from_c"]))
def test_in_memory_readers_on_edited_metadata(kind, edits, route):
    from pyarrow.cffi import ffi

    reader = pa.ipc.open_stream(_valid_file(kind))
    batch = pa.Table.from_batches(list(reader)).combine_chunks().to_batches()[0]
    meta = {k.decode(): v.decode() for k, v in batch.schema.metadata.items()}
    for key, value in edits:
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    batch = batch.replace_schema_metadata(meta)
    try:
        if route == "from_arrow":
            back = arrow.from_arrow(batch)
        else:
            c_array, c_schema = ffi.new("struct ArrowArray*"), ffi.new("struct ArrowSchema*")
            addr = lambda p: int(ffi.cast("uintptr_t", p))  # noqa: E731
            batch._export_to_c(addr(c_array), addr(c_schema))
            back = arrow.import_from_c(addr(c_array), addr(c_schema))
    except (ValueError, TypeError) as err:
        assert str(err)
        return
    arr = back.samples if isinstance(back, mcbridge.MCResult) else back
    assert isinstance(arr, np.ndarray) and arr.size == batch.num_rows
