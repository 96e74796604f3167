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
  - `mcbridge:class_names` (optional): JSON list of strings, one per entry of
    axis 1 (the classes of an MC result); written when the result has class
    names, read back into `MCResult.class_names`.
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
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pyarrow as pa

from mcbridge._checks import (
    as_numeric_array,
    check_bool,
    check_output_path,
    invalid,
    positive_int,
    publish,
    temp_file_error,
)

__all__ = [
    "FORMAT_VERSION",
    "KIND_MC_SAMPLES",
    "KIND_ARRAY",
    "MC_DIM_NAMES",
    "ArrowWriter",
    "ArrowFormatError",
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
_KEY_CLASS_NAMES = "mcbridge:class_names"

_IPC_FILE_MAGIC = b"ARROW1"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _is_mc_result(obj: Any) -> bool:
    samples = getattr(obj, "samples", None)
    if isinstance(samples, np.ndarray) and samples.ndim > 3 and hasattr(obj, "n_samples"):
        raise ValueError(
            f"This MCResult holds a dense output, samples of shape {samples.shape} "
            "(n, *dims, classes, samples); the Arrow writers take (n, classes, samples). "
            "Write result.samples as an array (write_arrow(result.samples, path)), "
            "or a summary such as result.mean."
        )
    return isinstance(samples, np.ndarray) and samples.ndim == 3 and hasattr(
        obj, "n_samples"
    )


def _make_mc_result(samples: np.ndarray, class_names=None):
    from mcbridge.result import MCResult

    return MCResult(samples, class_names=class_names)


def _class_names_of(obj: Any, class_names: Sequence[str] | None = None):
    """The class names to store: `class_names`, else those of an `MCResult`."""
    if class_names is None and _is_mc_result(obj):
        class_names = getattr(obj, "class_names", None)
    return None if class_names is None else tuple(class_names)


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
        arr = as_numeric_array(obj, "obj")
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
    class_names: Sequence[str] | None = None,
) -> pa.Schema:
    """Builds the mcbridge Arrow schema.

    Args:
        shape: Full array shape; `shape[0]` may be `None` when unknown.
        dtype: NumPy dtype of the values.
        kind: `"mc_samples"` or `"array"`.
        dim_names: Optional axis names, one per axis.
        class_names: Optional names of the entries of axis 1 (the classes),
            stored as `mcbridge:class_names`.

    Returns:
        A `pyarrow.Schema` with one `values` column and the metadata.

    Raises:
        TypeError: a class name is not a string.
        ValueError: a bad shape, or not one class name per entry of axis 1.
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
    if class_names is not None:
        names = list(class_names)
        if not all(isinstance(c, str) for c in names):
            raise TypeError(
                "Invalid value received for argument `class_names`. Expected a "
                f"sequence of strings. Received: class_names={names!r}"
            )
        if len(shape) < 2 or len(names) != shape[1]:
            raise ValueError(
                "Invalid value received for argument `class_names`. Expected one "
                f"name per entry of axis 1 of shape {shape}. Received: "
                f"{len(names)} names"
            )
        meta[_KEY_CLASS_NAMES] = json.dumps(names)
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
    class_names: Sequence[str] | None = None,
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
        class_names: Names of the entries of axis 1 (default: those of an
            `MCResult`, if set), stored as `mcbridge:class_names`.

    Returns:
        A `pyarrow.RecordBatch` (zero-copy when the array is Fortran-ordered,
        as `MCResult.samples` is) or a `pyarrow.Table`.
    """
    class_names = _class_names_of(obj, class_names)
    arr, kind, dim_names = _as_payload(obj, kind, dim_names)
    schema = make_schema(arr.shape, arr.dtype, kind, dim_names, class_names)
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


class ArrowFormatError(ValueError):
    """Arrow data that is not a readable mcbridge array (a `ValueError`)."""


#: Most axes a stored array may claim (NumPy allows 64).
MAX_NDIM = 32


def _meta_json(meta: dict, key: str):
    try:
        return json.loads(meta[key])
    except (ValueError, TypeError):
        raise ArrowFormatError(
            f"Metadata `{key}` is not valid JSON. Received: {meta[key][:80]!r}"
        ) from None


def _parse_meta(schema: pa.Schema) -> dict:
    raw = schema.metadata or {}
    try:
        meta = {k.decode(): v.decode() for k, v in raw.items()}
    except UnicodeDecodeError:
        raise ArrowFormatError("The schema metadata is not valid UTF-8.") from None
    ours = [k for k in meta if k.startswith("mcbridge:")]
    if ours and meta.get(_KEY_FORMAT) != FORMAT_VERSION:
        version = meta.get(_KEY_FORMAT)
        raise ArrowFormatError(
            f"Unknown mcbridge Arrow format version {version!r}; this mcbridge "
            f"reads version {FORMAT_VERSION!r}. Upgrade mcbridge to read it."
            if version is not None
            else "The data has mcbridge metadata but no `mcbridge:format` version."
        )
    kind = meta.get(_KEY_KIND, KIND_ARRAY)
    if kind not in (KIND_MC_SAMPLES, KIND_ARRAY):
        raise ArrowFormatError(
            f"Unknown `mcbridge:kind` {kind!r}; expected '{KIND_MC_SAMPLES}' or "
            f"'{KIND_ARRAY}'."
        )
    order = meta.get(_KEY_ORDER, "F")
    if order != "F":
        raise ArrowFormatError(f"Unsupported `mcbridge:order` {order!r} (expected 'F').")
    shape = None
    if _KEY_SHAPE in meta:
        shape = _meta_json(meta, _KEY_SHAPE)
        ok = (
            isinstance(shape, list)
            and len(shape) <= MAX_NDIM
            and all(
                type(s) is int and s >= 0 or (s is None and i == 0)
                for i, s in enumerate(shape)
            )
        )
        if not ok:
            raise ArrowFormatError(
                "Metadata `mcbridge:shape` must be a JSON list of at most "
                f"{MAX_NDIM} non-negative integers (the first may be null). "
                f"Received: {meta[_KEY_SHAPE][:80]!r}"
            )
    elif ours:
        raise ArrowFormatError("The data has mcbridge metadata but no `mcbridge:shape`.")
    dim_names = _meta_json(meta, _KEY_DIM_NAMES) if _KEY_DIM_NAMES in meta else None
    if dim_names is not None and not (
        isinstance(dim_names, list)
        and all(isinstance(d, str) for d in dim_names)
        and (shape is None or len(dim_names) == len(shape))
    ):
        raise ArrowFormatError(
            "Metadata `mcbridge:dim_names` must be a JSON list of one name per "
            f"axis. Received: {meta[_KEY_DIM_NAMES][:80]!r}"
        )
    if kind == KIND_MC_SAMPLES and (shape is None or len(shape) != 3):
        raise ArrowFormatError(
            "MC samples need a shape `(n, classes, samples)`. Received: "
            f"shape={shape}"
        )
    class_names = None
    if _KEY_CLASS_NAMES in meta:
        class_names = _meta_json(meta, _KEY_CLASS_NAMES)
        if not (
            isinstance(class_names, list)
            and all(isinstance(c, str) for c in class_names)
            and shape is not None
            and len(shape) >= 2
            and len(class_names) == shape[1]
        ):
            raise ArrowFormatError(
                "Metadata `mcbridge:class_names` must be a JSON list of strings, "
                "one per entry of axis 1 of the shape "
                f"{shape}. Received: {meta[_KEY_CLASS_NAMES][:80]!r}"
            )
    return {
        "kind": kind,
        "shape": shape,
        "dim_names": dim_names,
        "class_names": class_names,
    }


def _value_dtype(schema: pa.Schema, kind: str) -> np.dtype:
    if len(schema) != 1:
        ours = any(k.startswith(b"mcbridge:") for k in (schema.metadata or {}))
        raise ArrowFormatError(
            "This Arrow data is not an mcbridge array: it has "
            f"{len(schema)} columns {schema.names[:10]}"
            + ("" if ours else " and no mcbridge metadata")
            + "; an mcbridge array has one column `values`. Read it with "
            "pyarrow, or write it with mcbridge.write_arrow()."
        )
    typ = schema.field(0).type
    if not (pa.types.is_integer(typ) or pa.types.is_boolean(typ)
            or pa.types.is_float32(typ) or pa.types.is_float64(typ)):
        raise TypeError(
            "mcbridge Arrow values must be integers, float32, float64 or bool. "
            f"Received: values of type {typ}"
        )
    if kind == KIND_MC_SAMPLES and not pa.types.is_floating(typ):
        raise TypeError(
            f"MC samples must be float32 values. Received: values of type {typ}"
        )
    return np.dtype(typ.to_pandas_dtype())


def _column_numpy(batch: pa.RecordBatch) -> np.ndarray:
    col = batch.column(0)
    if col.null_count:
        raise ArrowFormatError(
            f"mcbridge Arrow data must not contain nulls. Received: "
            f"{col.null_count} null value(s)"
        )
    if pa.types.is_boolean(col.type):
        return col.to_numpy(zero_copy_only=False)
    return col.to_numpy(zero_copy_only=True)


def _assemble(schema: pa.Schema, batches: Iterable[pa.RecordBatch], copy: bool):
    meta = _parse_meta(schema)
    dtype = _value_dtype(schema, meta["kind"])
    batches = [b for b in batches if b.num_rows > 0]
    for b in batches:
        if not b.schema.equals(schema, check_metadata=False):
            raise ArrowFormatError("A record batch's schema differs from the stream's.")
        try:
            b.validate(full=True)
        except (pa.ArrowException, ValueError) as err:
            raise ArrowFormatError(f"A record batch is corrupt: {_first_line(err)}") from None
    total = sum(b.num_rows for b in batches)
    shape = meta["shape"]
    if shape is None:  # plain Arrow data from elsewhere: a 1-d array
        shape = [total]
    tail = tuple(shape[1:])
    tail_size = math.prod(tail)
    if len(shape) == 0:
        if total != 1:
            raise ArrowFormatError(
                f"The shape [] (a scalar) needs 1 value; the data holds {total}."
            )
    else:
        n = shape[0]
        if n is None:
            if tail_size == 0 or total % tail_size:
                raise ArrowFormatError(
                    f"Cannot infer the row count: {total} values are not whole "
                    f"rows of shape {list(tail)}."
                )
            n = total // tail_size
        shape = [n, *tail]
        # Before anything is allocated: the claimed shape must fit the data.
        if total != math.prod(shape):
            raise ArrowFormatError(
                f"The shape metadata {shape} needs {math.prod(shape):,} values but "
                f"the data holds {total:,}: the file is truncated or its metadata "
                "is wrong."
            )
    shape = tuple(shape)

    if len(batches) == 1 and not copy:
        out = _column_numpy(batches[0]).reshape(shape, order="F")
    else:
        if len(batches) > 1:
            for b in batches:
                if tail_size == 0 or b.num_rows % tail_size:
                    raise ArrowFormatError("A record batch does not hold whole rows.")
        out = np.empty(shape, dtype=dtype, order="F")
        if len(batches) == 1 or out.ndim == 0:
            if batches:
                out.reshape(-1, order="F")[...] = _column_numpy(batches[0])
        else:
            row = 0
            for b in batches:
                flat = _column_numpy(b)
                m = flat.size // tail_size
                out[row : row + m] = flat.reshape((m, *tail), order="F")
                row += m
    if meta["kind"] == KIND_MC_SAMPLES:
        return _make_mc_result(out.astype(np.float32, copy=False), meta["class_names"])
    return out


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def from_arrow(data: Any, *, copy: bool = True):
    """Converts mcbridge Arrow data back to an `MCResult` or array.

    Everything is checked before an array is allocated: the metadata (format
    version, kind, shape), the value type, nulls, and that the shape matches
    the number of values.

    Args:
        data: A `pyarrow.RecordBatch`, `Table`, `RecordBatchReader`, or any
            object implementing `__arrow_c_stream__`.
        copy: When `False` and the data is one record batch, return a
            read-only Fortran-ordered view on the Arrow buffer.

    Returns:
        An `MCResult` for kind `"mc_samples"` (with the stored
        `mcbridge:class_names`, if any), otherwise a Fortran-ordered
        `np.ndarray` with the stored shape and dtype.

    Raises:
        TypeError: `data` is not Arrow data, or its values are not numeric.
        ValueError: the data is not a valid mcbridge array (a subclass,
            `ArrowFormatError`, says what is wrong).
    """
    check_bool("copy", copy)
    try:
        if isinstance(data, pa.RecordBatch):
            return _assemble(data.schema, [data], copy)
        if isinstance(data, pa.Table):
            return _assemble(data.schema, data.to_batches(), copy)
        if isinstance(data, pa.RecordBatchReader):
            return _assemble(data.schema, list(data), copy)
        if hasattr(data, "__arrow_c_stream__"):
            reader = pa.RecordBatchReader.from_stream(data)
            return _assemble(reader.schema, list(reader), copy)
    except pa.ArrowException as err:  # anything pyarrow finds first
        raise ArrowFormatError(f"Cannot read the Arrow data: {_first_line(err)}") from None
    raise TypeError(
        "Invalid value received for argument `data`. Expected a pyarrow "
        "RecordBatch, Table or RecordBatchReader. Received: data of type "
        f"{type(data).__name__}"
    )


# --------------------------------------------------------------------------
# C data interface (integer addresses, as R nanoarrow gives them)
# --------------------------------------------------------------------------
def _addr(x: Any, name: str) -> int:
    if isinstance(x, str):
        text = x.strip()
        try:
            value = int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            raise ValueError(
                invalid(name, "a memory address (an integer or its decimal string)", x)
            ) from None
    elif isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
        raise TypeError(invalid(name, "a memory address (an integer or its decimal string)", x))
    else:
        value = int(x)
    if value <= 0 or value >= 2**64:
        raise ValueError(invalid(name, "a non-null memory address", x))
    return value


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
        **kwargs: Passed to `to_arrow` (`kind`, `dim_names`, `class_names`).
    """
    array_addr, schema_addr = _addr(array_addr, "array_addr"), _addr(schema_addr, "schema_addr")
    batch = to_arrow(obj, **kwargs)
    batch._export_to_c(array_addr, schema_addr)


def import_from_c(array_addr: Any, schema_addr: Any, *, copy: bool = True):
    """Imports (and takes ownership of) an exported mcbridge struct array.

    Args:
        array_addr: Address of a filled `struct ArrowArray`.
        schema_addr: Address of the matching `struct ArrowSchema`.
        copy: See `from_arrow`.

    Returns:
        An `MCResult` or `np.ndarray`.

    Raises:
        TypeError, ValueError: a bad address, or data that is not an mcbridge
            array (see `from_arrow`).
    """
    array_addr, schema_addr = _addr(array_addr, "array_addr"), _addr(schema_addr, "schema_addr")
    try:
        batch = pa.RecordBatch._import_from_c(array_addr, schema_addr)
    except (pa.ArrowException, TypeError, ValueError) as err:
        raise ArrowFormatError(
            "The imported Arrow data is not an mcbridge array (a struct array "
            f"with one `values` child): {_first_line(err)}"
        ) from None
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
        class_names: Optional names of the entries of axis 1 (the classes).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        shape: Sequence[int | None],
        *,
        dtype: Any = np.float32,
        kind: str = KIND_MC_SAMPLES,
        dim_names: Sequence[str] | None = None,
        class_names: Sequence[str] | None = None,
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
        self.path = check_output_path(path)
        self.shape = tuple(shape)
        self.dtype = _check_dtype(dtype)
        self.schema = make_schema(shape, self.dtype, kind, dim_names, class_names)
        self._tail = tuple(int(s) for s in shape[1:])
        self.rows_written = 0
        try:
            fd, tmp = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
        except OSError as err:  # e.g. a read-only directory
            raise temp_file_error(self.path, err) from None
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
            publish(self._tmp, self.path)
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
    class_names: Sequence[str] | None = None,
) -> Path:
    """Writes an `MCResult` or array to an Arrow IPC stream file, atomically.

    Args:
        obj: An `MCResult` or array-like.
        path: Destination (conventionally `*.arrow`).
        rows_per_batch: Rows per record batch (default: one batch).
        kind: Override the kind (see `to_arrow`).
        dim_names: Axis names.
        class_names: Names of the entries of axis 1 (default: those of an
            `MCResult`, if set), stored as `mcbridge:class_names`.

    Returns:
        The path written.
    """
    class_names = _class_names_of(obj, class_names)
    arr, kind, dim_names = _as_payload(obj, kind, dim_names)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if rows_per_batch is None:
        step = max(arr.shape[0], 1)
    else:
        step = positive_int("rows_per_batch", rows_per_batch)
    with ArrowWriter(
        path,
        arr.shape,
        dtype=arr.dtype,
        kind=kind,
        dim_names=dim_names,
        class_names=class_names,
    ) as w:
        for i in range(0, arr.shape[0], step):
            w.write(arr[i : i + step])
    return Path(path)


def read_arrow(path: str | os.PathLike, *, copy: bool = True):
    """Reads an mcbridge Arrow file (IPC stream or IPC file format).

    Files without mcbridge metadata and with one numeric column are read as a
    1-d array of that column. Everything is checked before an array is
    allocated (see `from_arrow`): a truncated, corrupt or foreign file raises
    an error that says so, never a crash.

    Args:
        path: The file.
        copy: See `from_arrow` (`False` keeps a view on the memory map).

    Returns:
        An `MCResult` for kind `"mc_samples"` (with its stored class names),
        otherwise an `np.ndarray`.

    Raises:
        FileNotFoundError: `path` does not exist.
        TypeError: `path` is not a path, or the values are not numeric.
        ValueError: the file is not a readable mcbridge Arrow file (the
            subclass `ArrowFormatError` says why).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(invalid("path", "a file path (str or os.PathLike)", path))
    check_bool("copy", copy)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Arrow file {str(path)!r} does not exist.")
    if not path.is_file():
        raise ArrowFormatError(f"{str(path)!r} is not a file.")
    size = path.stat().st_size
    if size == 0:
        raise ArrowFormatError(f"{str(path)!r} is empty (0 bytes), not an Arrow file.")
    with open(path, "rb") as f:
        head = f.read(6)
    try:
        source = pa.memory_map(str(path), "r")
        if head == _IPC_FILE_MAGIC:
            reader = pa.ipc.open_file(source)
            batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
            schema = reader.schema
        else:
            reader = pa.ipc.open_stream(source)
            schema = reader.schema
            batches = list(reader)
    except (pa.ArrowException, OSError, ValueError) as err:
        raise ArrowFormatError(
            f"{str(path)!r} ({size:,} bytes) is not a readable Arrow IPC file: it "
            f"is truncated, corrupt or another format ({_first_line(err)})."
        ) from None
    try:
        return _assemble(schema, batches, copy)
    except ArrowFormatError as err:
        raise ArrowFormatError(f"{str(path)!r}: {err}") from None
    except pa.ArrowException as err:
        raise ArrowFormatError(f"{str(path)!r} is corrupt: {_first_line(err)}") from None
