"""The Arrow wire format shared by mcbridge's Python and R sides.

One format is used in memory (Arrow C data interface) and on disk (Arrow IPC
*stream* format), so a file written here is read by R (`mcbridge`, or plain
`nanoarrow` / `arrow`) and by any Arrow tool, and the other way round.
The full specification is in `docs/ARROW.md`; in short:

* One column named `values`, no nulls. MC results are `float32`; plain arrays
  may be any Arrow integer, floating or boolean type.
* Schema metadata (all values UTF-8 strings):

  - `mcbridge:format`: `"1"`.
  - `mcbridge:kind`: `"mc_samples"` (an MC result, shape
    `(n, classes, samples)`) or `"array"` (any n-d array).
  - `mcbridge:shape`: JSON list of ints, e.g. `"[10000, 10, 100]"`. The first
    entry may be `null` in a stream whose row count was not known when the
    schema was written; readers then infer it from the data.
  - `mcbridge:dim_names`: JSON list of axis names,
    `["n", "classes", "samples"]` for MC results (optional for arrays).
  - `mcbridge:order`: `"F"`: values are in column-major order (first axis
    fastest), which is R's native array order. R therefore needs one pass
    (widening `float32` to `double`) and no transpose, and Python reads it as
    a Fortran-ordered view.
* Record batches hold contiguous blocks of rows (the first axis): batch `k`
  holds rows `[r_k, r_k + m_k)` as the column-major flattening of the block of
  shape `(m_k, *shape[1:])`. A single-batch table is therefore exactly the
  column-major flattening of the whole array; several batches let a large
  result be written and read block by block.
* Files are written atomically (temporary file in the same directory, then
  `os.replace`). `read_arrow` also reads the IPC *file* format (magic
  `ARROW1`), so files written by other tools with `pyarrow.ipc.new_file` or
  R `arrow::write_feather` work too.

Index semantics are the same in both languages: Python `samples[i, k, s]` is R
`all_samples[i + 1, k + 1, s + 1]`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pyarrow as pa

from mcbridge._checks import positive_int

__all__ = [
    "FORMAT_VERSION",
    "KIND_MC_SAMPLES",
    "KIND_ARRAY",
    "MC_DIM_NAMES",
    "ArrowWriter",
    "make_schema",
    "to_arrow",
    "from_arrow",
    "write_arrow",
    "read_arrow",
    "export_to_c",
    "import_from_c",
]

FORMAT_VERSION = "1"
KIND_MC_SAMPLES = "mc_samples"
KIND_ARRAY = "array"
MC_DIM_NAMES = ("n", "classes", "samples")
COLUMN = "values"

_KEY_FORMAT = "mcbridge:format"
_KEY_KIND = "mcbridge:kind"
_KEY_SHAPE = "mcbridge:shape"
_KEY_DIM_NAMES = "mcbridge:dim_names"
_KEY_ORDER = "mcbridge:order"

_IPC_FILE_MAGIC = b"ARROW1"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _is_mc_result(obj: Any) -> bool:
    samples = getattr(obj, "samples", None)
    return isinstance(samples, np.ndarray) and samples.ndim == 3 and hasattr(
        obj, "n_samples"
    )


def _make_mc_result(samples: np.ndarray):
    from mcbridge.result import MCResult

    return MCResult(samples)


def _check_dtype(dtype: np.dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf" or dtype.itemsize > 8 or dtype == np.float16:
        raise TypeError(
            "Arrays crossing by Arrow must have a boolean, integer or float32/"
            f"float64 dtype. Received: dtype={dtype}"
        )
    return dtype


def _as_payload(obj: Any, kind: str | None, dim_names):
    """Returns `(array, kind, dim_names)` for an MC result or array-like."""
    if _is_mc_result(obj):
        arr = np.asarray(obj.samples, dtype=np.float32)
        kind = KIND_MC_SAMPLES if kind is None else kind
    else:
        arr = np.asarray(obj)
        kind = KIND_ARRAY if kind is None else kind
    if kind == KIND_MC_SAMPLES:
        if arr.ndim != 3:
            raise ValueError(
                "An MC result must have shape `(n, classes, samples)`. "
                f"Received: shape={arr.shape}"
            )
        arr = arr.astype(np.float32, copy=False)
        dim_names = MC_DIM_NAMES if dim_names is None else tuple(dim_names)
    elif kind != KIND_ARRAY:
        raise ValueError(
            "Invalid value received for argument `kind`. Expected "
            f"'{KIND_MC_SAMPLES}' or '{KIND_ARRAY}'. Received: kind={kind!r}"
        )
    _check_dtype(arr.dtype)
    if dim_names is not None and len(dim_names) != arr.ndim:
        raise ValueError(
            f"`dim_names` must have one name per axis ({arr.ndim}). "
            f"Received: dim_names={list(dim_names)}"
        )
    return arr, kind, dim_names


def make_schema(
    shape: Sequence[int | None],
    dtype: Any = np.float32,
    kind: str = KIND_ARRAY,
    dim_names: Sequence[str] | None = None,
) -> pa.Schema:
    """Builds the mcbridge Arrow schema.

    Args:
        shape: Full array shape; `shape[0]` may be `None` when unknown.
        dtype: NumPy dtype of the values.
        kind: `"mc_samples"` or `"array"`.
        dim_names: Optional axis names, one per axis.

    Returns:
        A `pyarrow.Schema` with one `values` column and the metadata.
    """
    dtype = _check_dtype(dtype)
    shape = [None if s is None else int(s) for s in shape]
    if any(s is None for s in shape[1:]) or any(
        s is not None and s < 0 for s in shape
    ):
        raise ValueError(f"Invalid shape for Arrow export: {shape}")
    meta = {
        _KEY_FORMAT: FORMAT_VERSION,
        _KEY_KIND: kind,
        _KEY_SHAPE: json.dumps(shape),
        _KEY_ORDER: "F",
    }
    if dim_names is not None:
        meta[_KEY_DIM_NAMES] = json.dumps([str(d) for d in dim_names])
    return pa.schema([pa.field(COLUMN, pa.from_numpy_dtype(dtype))], metadata=meta)


def _flat_f(block: np.ndarray) -> np.ndarray:
    """Column-major flattening; a view when `block` is Fortran-contiguous."""
    return block.reshape(-1, order="F")


def _batch(schema: pa.Schema, flat: np.ndarray) -> pa.RecordBatch:
    # pa.array on a contiguous 1-d numeric ndarray without nulls is zero-copy.
    return pa.record_batch([pa.array(flat, type=schema.field(0).type)], schema=schema)


# --------------------------------------------------------------------------
# in memory
# --------------------------------------------------------------------------
def to_arrow(
    obj: Any,
    *,
    kind: str | None = None,
    dim_names: Sequence[str] | None = None,
    rows_per_batch: int | None = None,
) -> pa.RecordBatch | pa.Table:
    """Converts an `MCResult` or array to mcbridge Arrow data.

    Args:
        obj: An `MCResult` (kind `"mc_samples"`) or anything `np.asarray`
            accepts (kind `"array"`).
        kind: Override the kind (`"mc_samples"` needs a 3-d array).
        dim_names: Axis names (default `("n", "classes", "samples")` for MC
            results, none for arrays).
        rows_per_batch: When given, return a `pyarrow.Table` of record batches
            of at most this many rows; otherwise a single `pyarrow.RecordBatch`.

    Returns:
        A `pyarrow.RecordBatch` (zero-copy when the array is Fortran-ordered,
        as `MCResult.samples` is) or a `pyarrow.Table`.
    """
    arr, kind, dim_names = _as_payload(obj, kind, dim_names)
    schema = make_schema(arr.shape, arr.dtype, kind, dim_names)
    if arr.ndim == 0:
        return _batch(schema, arr.reshape(1))
    if rows_per_batch is None:
        return _batch(schema, _flat_f(arr))
    step = positive_int("rows_per_batch", rows_per_batch)
    batches = [
        _batch(schema, _flat_f(arr[i : i + step]))
        for i in range(0, max(arr.shape[0], 1), step)
    ]
    return pa.Table.from_batches(batches, schema=schema)


def _parse_meta(schema: pa.Schema) -> dict:
    raw = schema.metadata or {}
    meta = {k.decode(): v.decode() for k, v in raw.items()}
    kind = meta.get(_KEY_KIND, KIND_ARRAY)
    shape = json.loads(meta[_KEY_SHAPE]) if _KEY_SHAPE in meta else None
    dim_names = json.loads(meta[_KEY_DIM_NAMES]) if _KEY_DIM_NAMES in meta else None
    order = meta.get(_KEY_ORDER, "F")
    if order != "F":
        raise ValueError(f"Unsupported `mcbridge:order`: {order!r} (expected 'F')")
    if kind not in (KIND_MC_SAMPLES, KIND_ARRAY):
        raise ValueError(f"Unknown `mcbridge:kind`: {kind!r}")
    return {"kind": kind, "shape": shape, "dim_names": dim_names}


def _column_numpy(batch: pa.RecordBatch) -> np.ndarray:
    col = batch.column(0)
    if col.null_count:
        raise ValueError("mcbridge Arrow data must not contain nulls")
    if pa.types.is_boolean(col.type):
        return col.to_numpy(zero_copy_only=False)
    return col.to_numpy(zero_copy_only=True)


def _assemble(schema: pa.Schema, batches: Iterable[pa.RecordBatch], copy: bool):
    meta = _parse_meta(schema)
    if len(schema) < 1:
        raise ValueError("mcbridge Arrow data needs a `values` column")
    dtype = schema.field(0).type.to_pandas_dtype()
    batches = [b for b in batches if b.num_rows > 0]
    total = sum(b.num_rows for b in batches)
    shape = meta["shape"]
    if shape is None:  # plain Arrow data from elsewhere: a 1-d array
        shape = [total]
    tail = tuple(int(s) for s in shape[1:])
    tail_size = int(np.prod(tail)) if tail else 1
    if len(shape) == 0:
        n = None
        if total != 1:
            raise ValueError(f"Scalar array holds {total} values")
    else:
        n = shape[0]
        if n is None:
            if tail_size == 0 or total % tail_size:
                raise ValueError("Cannot infer the row count from the data")
            n = total // tail_size
        shape = [int(n), *tail]
        if total != int(np.prod(shape)):
            raise ValueError(
                f"Arrow data holds {total} values but the shape {shape} needs "
                f"{int(np.prod(shape))}"
            )
    shape = tuple(shape)

    if len(batches) == 1 and not copy:
        out = _column_numpy(batches[0]).reshape(shape, order="F")
    else:
        out = np.empty(shape, dtype=dtype, order="F")
        if len(batches) == 1 or out.ndim == 0:
            if batches:
                out.reshape(-1, order="F")[...] = _column_numpy(batches[0])
        else:
            row = 0
            for b in batches:
                flat = _column_numpy(b)
                if flat.size % tail_size:
                    raise ValueError("A record batch does not hold whole rows")
                m = flat.size // tail_size
                out[row : row + m] = flat.reshape((m, *tail), order="F")
                row += m
    if meta["kind"] == KIND_MC_SAMPLES:
        if out.ndim != 3:
            raise ValueError(f"MC samples must be 3-d. Received: shape={out.shape}")
        return _make_mc_result(out.astype(np.float32, copy=False))
    return out


def from_arrow(data: Any, *, copy: bool = True):
    """Converts mcbridge Arrow data back to an `MCResult` or array.

    Args:
        data: A `pyarrow.RecordBatch`, `Table`, `RecordBatchReader`, or any
            object implementing `__arrow_c_stream__`.
        copy: When `False` and the data is one record batch, return a
            read-only Fortran-ordered view on the Arrow buffer.

    Returns:
        An `MCResult` for kind `"mc_samples"`, otherwise a Fortran-ordered
        `np.ndarray` with the stored shape and dtype.
    """
    if isinstance(data, pa.RecordBatch):
        return _assemble(data.schema, [data], copy)
    if isinstance(data, pa.Table):
        return _assemble(data.schema, data.to_batches(), copy)
    if isinstance(data, pa.RecordBatchReader):
        return _assemble(data.schema, list(data), copy)
    if hasattr(data, "__arrow_c_stream__"):
        reader = pa.RecordBatchReader.from_stream(data)
        return _assemble(reader.schema, list(reader), copy)
    raise TypeError(f"Cannot read mcbridge Arrow data from {type(data).__name__}")


# --------------------------------------------------------------------------
# C data interface (integer addresses, as R nanoarrow gives them)
# --------------------------------------------------------------------------
def _addr(x: Any) -> int:
    if isinstance(x, str):
        return int(x, 0) if x.lower().startswith("0x") else int(x)
    return int(x)


def export_to_c(obj: Any, array_addr: Any, schema_addr: Any, **kwargs) -> None:
    """Exports `obj` into caller-allocated `ArrowArray` / `ArrowSchema` structs.

    The export is a struct array (one `values` child) whose schema carries the
    mcbridge metadata. It is zero-copy for Fortran-ordered arrays (e.g.
    `MCResult.samples`); the consumer's release callback frees it.

    Args:
        obj: An `MCResult` or array (see `to_arrow`).
        array_addr: Address of an empty `struct ArrowArray` (int or decimal
            string, as R's `nanoarrow_pointer_addr_chr()` returns).
        schema_addr: Address of an empty `struct ArrowSchema`.
        **kwargs: Passed to `to_arrow` (`kind`, `dim_names`).
    """
    batch = to_arrow(obj, **kwargs)
    batch._export_to_c(_addr(array_addr), _addr(schema_addr))


def import_from_c(array_addr: Any, schema_addr: Any, *, copy: bool = True):
    """Imports (and takes ownership of) an exported mcbridge struct array.

    Args:
        array_addr: Address of a filled `struct ArrowArray`.
        schema_addr: Address of the matching `struct ArrowSchema`.
        copy: See `from_arrow`.

    Returns:
        An `MCResult` or `np.ndarray`.
    """
    batch = pa.RecordBatch._import_from_c(_addr(array_addr), _addr(schema_addr))
    return from_arrow(batch, copy=copy)


# --------------------------------------------------------------------------
# on disk
# --------------------------------------------------------------------------
class ArrowWriter:
    """Streams an array to an Arrow IPC stream file, block of rows by block.

    The file appears at `path` only when `close()` succeeds (atomic replace);
    on error, or when leaving the `with` block by an exception, nothing is
    left behind.

    Example:

    ```python
    with ArrowWriter("res.arrow", (n, 10, 30), kind="mc_samples") as w:
        for block in blocks:          # each `(rows, 10, 30)`
            w.write(block)
    ```

    Args:
        path: Destination file.
        shape: Full shape; `shape[0]` may be `None` if unknown in advance.
        dtype: Value dtype (`float32` for MC samples).
        kind: `"mc_samples"` or `"array"`.
        dim_names: Axis names (default for MC samples: `n, classes, samples`).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        shape: Sequence[int | None],
        *,
        dtype: Any = np.float32,
        kind: str = KIND_MC_SAMPLES,
        dim_names: Sequence[str] | None = None,
    ):
        if kind == KIND_MC_SAMPLES:
            if len(shape) != 3:
                raise ValueError(
                    f"MC samples need shape `(n, classes, samples)`. Received: {shape}"
                )
            dtype = np.float32
            dim_names = MC_DIM_NAMES if dim_names is None else dim_names
        if len(shape) == 0:
            raise ValueError("ArrowWriter needs at least one axis")
        self.path = Path(path)
        self.shape = tuple(shape)
        self.dtype = _check_dtype(dtype)
        self.schema = make_schema(shape, self.dtype, kind, dim_names)
        self._tail = tuple(int(s) for s in shape[1:])
        self.rows_written = 0
        directory = self.path.parent if str(self.path.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=directory
        )
        os.close(fd)
        self._tmp = Path(tmp)
        try:
            self._sink = pa.OSFile(tmp, "wb")
            self._writer = pa.ipc.new_stream(self._sink, self.schema)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        self._open = True

    def write(self, block: Any) -> None:
        """Appends rows; `block` has shape `(rows, *shape[1:])`."""
        if not self._open:
            raise ValueError("ArrowWriter is closed")
        block = np.asarray(block)
        if block.shape[1:] != self._tail:
            raise ValueError(
                f"Expected blocks of shape (rows, {', '.join(map(str, self._tail))})"
                f". Received: shape={block.shape}"
            )
        n = self.shape[0]
        if n is not None and self.rows_written + block.shape[0] > n:
            raise ValueError(f"More than the declared {n} rows were written")
        block = block.astype(self.dtype, copy=False)
        self._writer.write_batch(_batch(self.schema, _flat_f(block)))
        self.rows_written += block.shape[0]

    def close(self) -> Path:
        """Finishes the stream and moves the file into place."""
        if not self._open:
            return self.path
        try:
            n = self.shape[0]
            if n is not None and self.rows_written != n:
                raise ValueError(
                    f"ArrowWriter declared {n} rows but {self.rows_written} were written"
                )
            self._writer.close()
            self._sink.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._open = False
        return self.path

    def abort(self) -> None:
        """Discards the partial file."""
        self._open = False
        for closer in (self._writer.close, self._sink.close):
            try:
                closer()
            except Exception:
                pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "ArrowWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_arrow(
    obj: Any,
    path: str | os.PathLike,
    *,
    rows_per_batch: int | None = None,
    kind: str | None = None,
    dim_names: Sequence[str] | None = None,
) -> Path:
    """Writes an `MCResult` or array to an Arrow IPC stream file, atomically.

    Args:
        obj: An `MCResult` or array-like.
        path: Destination (conventionally `*.arrow`).
        rows_per_batch: Rows per record batch (default: one batch).
        kind: Override the kind (see `to_arrow`).
        dim_names: Axis names.

    Returns:
        The path written.
    """
    arr, kind, dim_names = _as_payload(obj, kind, dim_names)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if rows_per_batch is None:
        step = max(arr.shape[0], 1)
    else:
        step = positive_int("rows_per_batch", rows_per_batch)
    with ArrowWriter(
        path, arr.shape, dtype=arr.dtype, kind=kind, dim_names=dim_names
    ) as w:
        for i in range(0, arr.shape[0], step):
            w.write(arr[i : i + step])
    return Path(path)


def read_arrow(path: str | os.PathLike, *, copy: bool = True):
    """Reads an mcbridge Arrow file (IPC stream or IPC file format).

    Files without mcbridge metadata are read as a 1-d array of their first
    column.

    Args:
        path: The file.
        copy: See `from_arrow` (`False` keeps a view on the memory map).

    Returns:
        An `MCResult` for kind `"mc_samples"`, otherwise an `np.ndarray`.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(6)
    source = pa.memory_map(str(path), "r")
    if head == _IPC_FILE_MAGIC:
        reader = pa.ipc.open_file(source)
        batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        return _assemble(reader.schema, batches, copy)
    reader = pa.ipc.open_stream(source)
    return _assemble(reader.schema, list(reader), copy)
