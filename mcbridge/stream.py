"""MC prediction streamed to a Parquet file or an Arrow IPC stream, one row per input.

`predict_to_file` runs `mc_predict`'s engine block by block: each block's
`(rows, classes, samples)` samples are summarised (mean, variance,
predictive entropy, mutual information, variation ratio) and written as one
record batch, then dropped, so peak memory does not grow with the number of
inputs. The file appears only when the run finished: it is written under a
temporary name in the same folder and renamed (atomically) at the end.

Input `i` (its key) is its row number over the whole input, so with a seed
its samples are those `mc_predict` gives it on the same inputs (the same
masks, values equal up to float32 rounding), whatever the block sizes.

Columns: `index` (int64), `prediction` (int32, the class of highest mean),
`mean` and `variance` (fixed-size lists of float32, one entry per class;
variance with ddof = 1 as `MCResult.variance`), `predictive_entropy`,
`mutual_information`, `variation_ratio` (float32, nats) and, with
`keep_samples=True`, `samples` (a fixed-size list of `classes` fixed-size
lists of `n_samples` float32: the input's `(classes, samples)` block,
class-major), and with `tolerance=` (adaptive sampling) `n_used` (int32, the
samples of each input; its `samples` are NaN after them). A dense output
`(batch, *dims, classes)` writes per input its maps, flattened in C order
(schema metadata `mcbridge.dims`): `prediction`, `predictive_entropy`,
`mutual_information`, `variation_ratio` one value per position, `mean` and
`variance` one per position and class, `samples` one list per position and class. `.arrow` output is an Arrow IPC *stream* (as mcbridge's other
`.arrow` files, docs/ARROW.md): read it with `pyarrow.ipc.open_stream`, or in
R with `mc_read_predictions()` (nanoarrow, batch by batch). See
docs/SCALING.md.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from mcbridge._checks import publish
from mcbridge._progress import progress_bar
from mcbridge.result import MCResult

__all__ = ["predict_to_file", "summary_batch"]

#: Bytes of samples one written block may hold (the cube of one block).
_BLOCK_BYTES = 32 * 2**20
_FORMATS = {".parquet": "parquet", ".arrow": "arrow"}


def _format_of(path) -> str:
    try:
        suffix = Path(os.fspath(path)).suffix.lower()
    except TypeError:
        raise TypeError(
            "Invalid value received for argument `path`. Expected a file path "
            f"(str or os.PathLike). Received: path of type {type(path).__name__}"
        ) from None
    if suffix not in _FORMATS:
        raise ValueError(
            "Invalid value received for argument `path`. Expected a file name "
            f"ending in .parquet or .arrow. Received: path={os.fspath(path)!r}"
        )
    return _FORMATS[suffix]


def _check_folder(path) -> None:
    """Raises FileNotFoundError when the folder `path` goes into does not exist."""
    folder = Path(os.fspath(path)).parent
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(
            f"Cannot write {os.fspath(path)!r}: the folder {str(folder)!r} {what}. Create the folder "
            f"first (os.makedirs({str(folder)!r}, exist_ok=True)) or choose another path."
        )


def _n_inputs(data) -> int | None:
    """How many inputs `data` holds, or None for an iterable of blocks (or a bad `data`)."""
    try:
        if isinstance(data, (str, os.PathLike)):
            return len(np.load(data, mmap_mode="r"))
        if isinstance(data, np.ndarray) or hasattr(data, "__array__"):
            return len(data)
    except Exception:  # a bad `data`: _blocks says what is wrong
        return None
    return None


def _blocks(data, rows: int) -> Iterable[np.ndarray]:
    """`data` (array, `.npy` path or iterable of arrays) as arrays of at most `rows` inputs."""
    if isinstance(data, (str, os.PathLike)):
        if Path(data).suffix.lower() != ".npy":
            raise ValueError(
                "Invalid value received for argument `data`. Expected an array, a "
                f".npy file or an iterable of arrays. Received: data={os.fspath(data)!r}"
            )
        data = np.load(data, mmap_mode="r")  # read block by block
    if isinstance(data, np.ndarray) or hasattr(data, "__array__"):
        arrays: Iterable = [data]
    elif isinstance(data, Iterable):
        arrays = data
    else:
        raise TypeError(
            "Invalid value received for argument `data`. Expected an array, a .npy "
            f"file or an iterable of arrays. Received: data of type {type(data).__name__}"
        )
    for array in arrays:
        array = array if isinstance(array, np.ndarray) else np.asarray(array)
        for i in range(0, max(len(array), 1), rows):
            yield array[i : i + rows]


def summary_batch(samples: np.ndarray, keys: np.ndarray, keep_samples: bool = False, n_used=None):
    """One `pyarrow.RecordBatch` of per-input summaries (the columns of `predict_to_file`).

    Args:
        samples: `(rows, classes, n_samples)` class probabilities.
        keys: `(rows,)` int64 keys, written as `index`.
        keep_samples: Add the `samples` column.
        n_used: Adaptive sampling: `(rows,)` samples of each input (the
            rest NaN); written as the column `n_used`.
    """
    import pyarrow as pa

    result = MCResult(samples, n_used=n_used)
    rows, classes, n_samples = result.n, result.n_classes, result.n_samples

    def per_input(values, dtype=np.float32):
        """One value per input, or (a dense output) a fixed-size list of its values in C order."""
        flat = np.ascontiguousarray(values, dtype=dtype).reshape(rows, -1)
        if flat.shape[1] == 1 and values.ndim == 1:
            return pa.array(flat[:, 0])
        return pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), flat.shape[1])

    columns = {
        "index": pa.array(np.asarray(keys, dtype=np.int64)),
        "prediction": per_input(result.predicted_class, np.int32),
        "mean": per_input(result.mean),
        "variance": per_input(result.variance),
        "predictive_entropy": per_input(result.predictive_entropy()),
        "mutual_information": per_input(result.mutual_information()),
        "variation_ratio": per_input(result.variation_ratio()),
    }
    if n_used is not None:
        columns["n_used"] = pa.array(np.asarray(n_used, dtype=np.int32))
    if keep_samples:
        flat = pa.array(np.ascontiguousarray(result.samples, dtype=np.float32).reshape(-1))
        inner = pa.FixedSizeListArray.from_arrays(flat, n_samples)
        columns["samples"] = pa.FixedSizeListArray.from_arrays(inner, classes * int(np.prod(result.dims)))
    return pa.RecordBatch.from_pydict(columns)


class _AtomicWriter:
    """Record batches to `path` through a temporary file renamed on success."""

    def __init__(self, path, fmt: str, metadata: dict):
        self.path = Path(os.fspath(path))
        self.fmt, self.metadata = fmt, metadata
        self.writer = None
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent or ".")
        os.close(fd)

    def write(self, batch) -> None:
        import pyarrow as pa

        if self.writer is None:
            schema = batch.schema.with_metadata(self.metadata)
            if self.fmt == "parquet":
                import pyarrow.parquet as pq

                self.writer = pq.ParquetWriter(self.tmp, schema)
            else:
                self.writer = pa.ipc.new_stream(self.tmp, schema)
        self.writer.write_batch(batch.replace_schema_metadata(self.metadata))

    def commit(self) -> None:
        self.writer.close()
        publish(self.tmp, self.path)

    def abort(self) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
        finally:
            if os.path.exists(self.tmp):
                os.remove(self.tmp)


def predict_to_file(
    model,
    data,
    path: str | os.PathLike,
    *,
    n_samples: int = 50,
    batch_size: int = 128,
    seed: int | None = None,
    keep_samples: bool = False,
    memory_budget: int | None = None,
    from_logits: bool = False,
    progress: bool | Callable[[int], None] | None = None,
    first_index: int = 0,
    precision: str = "float32",
    tolerance: float | None = None,
    min_samples: int = 10,
    class_margin: float | None = None,
) -> Path:
    """MC dropout prediction written to a Parquet file or Arrow IPC stream, block by block.

    Args:
        model: A Keras classifier with dropout, one input and one output
            (as `mc_predict`); a dense output `(batch, *dims, classes)` (a
            segmentation) writes each input's maps (see the module docstring).
        data: Inputs `(n, *input_shape)`: an array, the path of a `.npy`
            file (memory-mapped, read block by block) or an iterable of
            arrays (blocks of inputs, e.g. a generator reading files).
        path: The output file: `.parquet`, or `.arrow` (Arrow IPC stream
            format, one record batch per block).
        n_samples: MC samples per input.
        batch_size: At most this many inputs per compiled call (see `mc_predict`).
        seed: Non-negative integer, or None. With a seed, input `i`'s
            samples depend only on the seed and `i + first_index` (its key),
            as in `mc_predict`.
        keep_samples: Also write each input's `(classes, n_samples)` samples.
        memory_budget: Bytes of activations one compiled call may use
            (default `mcbridge.predict.DEFAULT_MEMORY_BUDGET`).
        from_logits: Apply a softmax to each sample (for logit outputs).
        progress: True for a progress bar counting inputs, False for none,
            None for a bar on long runs in a terminal or notebook (`data` an
            array or `.npy` file), or a callable called with the number of
            inputs written so far after each block.
        first_index: Key of the first input (to split one job over files).
        precision: `"float32"` or `"bfloat16"`, as in `mc_predict`.
        tolerance, min_samples, class_margin: Adaptive sampling, as in `mc_predict`: each
            input's summaries use its own samples, and the column `n_used`
            says how many it got.

    Returns:
        The `Path` written. The file holds one row per input (columns in the
        module docstring) and schema metadata `mcbridge.n_samples`,
        `mcbridge.seed` and `mcbridge.classes`.

    Raises:
        ValueError: a bad argument, or what `mc_predict` raises. On any error
            (or interruption) no file is left at `path`.
        TypeError: `data` or `path` of the wrong type.
        FileNotFoundError: the folder of `path` does not exist (checked first).
    """
    from mcbridge._checks import (
        INT64_MAX,
        check_bool,
        check_int,
        check_model,
        check_precision,
        check_seed,
        check_single_io,
        check_adaptive,
        check_x,
        class_groups,
        positive_int,
    )
    from mcbridge._engine.plan import resolve_precision
    from mcbridge._engine.run import sample
    from mcbridge._predict_model import DEFAULT_MEMORY_BUDGET, _block_check, _sampler_for

    fmt = _format_of(path)
    _check_folder(path)
    check_model(model)
    n_samples = positive_int("n_samples", n_samples)
    batch_size = positive_int("batch_size", batch_size)
    memory_budget = positive_int("memory_budget", DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget)
    seed = check_seed(seed)
    precision = check_precision(precision)
    first_index = check_int("first_index", first_index, minimum=0, maximum=INT64_MAX)
    keep_samples = check_bool("keep_samples", keep_samples)
    from_logits = check_bool("from_logits", from_logits)
    tolerance, class_margin, min_samples = check_adaptive(tolerance, class_margin, min_samples, n_samples)
    if seed is None:  # one random seed for the whole file: keys stay distinct streams
        seed = int(np.random.SeedSequence().entropy % 2**63)
        shown_seed = ""
    else:
        shown_seed = str(seed)
    precision = resolve_precision(precision)  # (what the CPU offers: after the argument checks)
    check_single_io(model, "predict_to_file")
    sampler = _sampler_for(model, precision=precision, any_shape=True)
    shape = sampler.output_shapes[0]  # (*dims, classes)
    classes = shape[-1]
    per_input = sampler.n_outputs * n_samples * 4 * (2 if keep_samples else 1)
    block_rows = max(batch_size, (_BLOCK_BYTES // per_input) // batch_size * batch_size)
    check = _block_check([shape], [("classification", from_logits, False)])
    groups = () if class_margin is None else class_groups([shape], ["classification"])
    metadata = {
        "mcbridge.n_samples": str(n_samples),
        "mcbridge.tolerance": "" if tolerance is None else repr(tolerance),
        "mcbridge.class_margin": "" if class_margin is None else repr(class_margin),
        "mcbridge.seed": shown_seed,
        "mcbridge.classes": str(classes),
        "mcbridge.dims": ",".join(map(str, shape[:-1])),
    }
    bar = None
    if progress is None or progress is True:  # a bar counting inputs (None: when long and watched)
        n_inputs = _n_inputs(data)
        work = None if n_inputs is None else n_inputs * n_samples
        bar = progress_bar(progress, n_inputs, work=work)
    writer = _AtomicWriter(path, fmt, metadata)
    try:
        done = 0
        for block in _blocks(data, block_rows):
            if len(block) == 0:
                continue
            x = check_x(block, sampler.input_shape, sampler.input_dtype)
            keys = np.arange(first_index + done, first_index + done + len(x), dtype=np.int64)
            samples, used = sample(sampler, x, n_samples, batch_size, memory_budget, seed, from_logits,
                                   tolerance=tolerance, min_samples=min_samples, check=check, progress=False, keys=keys,
                                   class_margin=class_margin, class_groups=groups)
            samples = samples.reshape((len(x), *shape, samples.shape[-1]), order="F")  # (rows, *dims, classes, S)
            writer.write(summary_batch(samples, keys, keep_samples, n_used=used))
            done += len(x)
            if bar is not None:
                bar.update(done)
            elif callable(progress):
                progress(done)
        if writer.writer is None:
            raise ValueError(
                "Invalid value received for argument `data`. Expected at least one input. Received: no inputs"
            )
        writer.commit()
    except BaseException:
        writer.abort()
        if bar is not None:
            bar.close()
        raise
    return writer.path
