"""MC dropout prediction on Apache Spark (optional extra: `pip install mcbridge[spark]`).

`mc_predict_spark` runs `mc_predict`'s engine inside `DataFrame.mapInArrow`:
each Python worker loads the model once (`mcbridge.load_model`, Keras' safe
mode) and keeps it for the tasks it runs; each Arrow batch of rows is
predicted and summarised as `mcbridge.predict_to_file` does. The inputs'
keys (an integer column) key the random streams, so with a seed every row
gets the numbers `mc_predict` gives the input with that row index, whatever
the partitioning (masks identical, values equal up to float32 rounding).
See docs/SCALING.md.

A model with several inputs reads one column per input (`input_col` a list
in the model's input order, or a dict from input name to column). A dense
output `(batch, *dims, classes)` writes per row its maps flattened in C
order, as `predict_to_file` does; every summary column's Spark field
metadata holds `mcbridge.dims` (`"H,W"`, `""` for a plain classifier) and
`mcbridge.classes`. Models with several outputs are refused: one job
predicts one output (save a `keras.Model(model.inputs, model.outputs[i])`
per head you need).

Which Python the workers run: with a local master (`local`, `local[2]`, ...)
and no `PYSPARK_PYTHON` set, `mc_predict_spark` points the workers at this
Python (`sys.executable`; Spark's default, `python3` on the PATH, usually
lacks mcbridge), also for a session started before the call. On a cluster
every worker's Python must have mcbridge installed; if one does not, the job
fails with an error saying so and what to do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import numpy as np

__all__ = ["mc_predict_spark", "use_this_python"]

_OUTPUT = ["prediction", "mean", "variance", "predictive_entropy", "mutual_information", "variation_ratio"]
_MODELS: dict = {}  # per Python worker: (path, mtime) -> model


#: What a worker says when its Python cannot import mcbridge (formatted there).
_NO_MCBRIDGE = (
    "The Spark worker's Python ({python}) cannot import mcbridge ({error}). Install mcbridge "
    "(`pip install 'mcbridge[spark]'`) into the Python every worker runs, or point the workers at "
    "a Python that has it: set PYSPARK_PYTHON (or the Spark conf spark.pyspark.python) before "
    "the SparkSession starts. With a local master mcbridge uses the driver's Python by itself "
    "unless PYSPARK_PYTHON is set."
)


def use_this_python(spark=None) -> bool:
    """Point local Spark workers at this Python (`sys.executable`) unless told otherwise.

    Sets `PYSPARK_PYTHON` and `PYSPARK_DRIVER_PYTHON` to `sys.executable`
    where unset, so that a session started afterwards runs its Python workers
    with it; given a running session (or context) with a local master whose
    workers would run Spark's default `python3`, points it there too (its
    later jobs use it). Non-local masters are left alone: their workers need
    a Python of their own with mcbridge installed.

    Args:
        spark: None: set the environment only (call it before starting a
            local session), or a running `SparkSession` / `SparkContext`.

    Returns:
        True if this Python is what the (local) workers will run.
    """
    if "PYSPARK_PYTHON" in os.environ and spark is None:
        return os.environ["PYSPARK_PYTHON"] == sys.executable
    if spark is None:
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        return True
    sc = getattr(spark, "sparkContext", spark)
    try:
        master, current = str(sc.master), sc.pythonExec
    except Exception:  # Spark Connect: no SparkContext on this side
        return False
    if not master.startswith("local"):
        return False
    if "PYSPARK_PYTHON" not in os.environ:
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        if current in ("python3", "python"):  # Spark's default, read when the context started
            sc.pythonExec = sys.executable
    return sc.pythonExec == sys.executable


def _worker_function(options: dict, hint: str):
    """The `mapInArrow` function: pickled by value, so a worker runs it before importing mcbridge.

    A worker whose Python lacks mcbridge raises ImportError with `hint`
    (formatted with its `python` and the `error`) instead of failing to
    unpickle the function with a bare `No module named 'mcbridge'`.
    """

    def run(batches):
        import sys

        try:
            from mcbridge.spark import _predict_batches
        except ImportError as err:
            raise ImportError(hint.format(python=sys.executable, error=err)) from None
        return _predict_batches(batches, **options)

    return run


def _worker_model(path: str):
    """The model at `path`, loaded once per Python worker process."""
    key = (path, os.path.getmtime(path))
    if key not in _MODELS:
        from mcbridge.models import load_model

        _MODELS.clear()
        _MODELS[key] = load_model(path, compile=False)
    return _MODELS[key]


def _inputs(column, shape: tuple, name: str) -> np.ndarray:
    """A list<float> Arrow column as `(rows, *shape)` float32."""
    import pyarrow as pa

    if column.null_count:
        raise ValueError(f"Column {name!r} holds {column.null_count} nulls; every input must be present.")
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    size = int(np.prod(shape))
    lengths = np.diff(np.asarray(column.offsets)) if hasattr(column, "offsets") else None
    if lengths is not None and np.any(lengths != size):
        bad = int(np.flatnonzero(lengths != size)[0])
        raise ValueError(
            f"Column {name!r}: every row must hold {size} values (the model's input shape "
            f"{shape} flattened); row {bad} of a batch holds {int(lengths[bad])}."
        )
    values = np.asarray(column.flatten(), dtype=np.float32)
    return values.reshape((len(column), *shape))


def _predict_batches(batches, *, model_path, input_cols, key_col, keep, n_samples, seed, keep_samples,
                     batch_size, memory_budget, tolerance=None, min_samples=10, class_margin=None):
    """The `mapInArrow` function: Arrow record batches in, summary batches out.

    `input_cols`: one column per model input, in its input order.
    """
    import pyarrow as pa

    from mcbridge._checks import class_groups
    from mcbridge._engine.run import sample
    from mcbridge._predict_model import _block_check, _sampler_for
    from mcbridge.stream import summary_batch

    model = _worker_model(model_path)
    sampler = _sampler_for(model, any_shape=True)
    out_shape = sampler.output_shapes[0]  # (*dims, classes)
    check = _block_check([out_shape], [("classification", False, False)])
    groups = () if class_margin is None else class_groups([out_shape], ["classification"])
    for batch in batches:
        if batch.num_rows == 0:
            continue
        keys = np.asarray(batch.column(key_col).to_numpy(zero_copy_only=False), dtype=np.int64)
        xs = []
        for col, (shape, dtype) in zip(input_cols, sampler.input_specs):
            x = _inputs(batch.column(col), tuple(shape[1:]), col).astype(dtype, copy=False)
            if not np.all(np.isfinite(x)):
                raise ValueError(f"Column {col!r} holds NaN or infinite values.")
            xs.append(x)
        samples, used = sample(sampler, xs, n_samples, batch_size, memory_budget, seed, False, tolerance=tolerance,
                               min_samples=min_samples, check=check, keys=keys, class_margin=class_margin,
                               class_groups=groups)
        samples = samples.reshape((len(keys), *out_shape, samples.shape[-1]), order="F")  # (rows, *dims, classes, S)
        summary = summary_batch(samples, keys, keep_samples, n_used=used)
        columns, names = [batch.column(key_col)], [key_col]
        for name in keep:
            columns.append(batch.column(name))
            names.append(name)
        for name in summary.schema.names[1:]:
            col = summary.column(name)
            if name == "samples":
                col = col.cast(pa.list_(pa.list_(pa.float32())))
            elif pa.types.is_fixed_size_list(col.type):
                col = col.cast(pa.list_(col.type.value_type))
            columns.append(col)
            names.append(name)
        yield pa.RecordBatch.from_arrays(columns, names=names)


def _input_columns(input_col, names: list[str], fields: dict) -> list[str]:
    """`input_col` as one column name per model input (in its input order).

    Raises:
        ValueError: a count or names that do not match the model's inputs,
            a column `df` lacks, or one that is not an array column.
    """
    from collections.abc import Mapping

    from pyspark.sql import types as T

    listed = ", ".join(repr(n) for n in names)
    if isinstance(input_col, str):
        cols = [input_col]
        if len(names) > 1:
            raise ValueError(
                f"Invalid value received for argument `input_col`. The model has {len(names)} inputs "
                f"({listed}): pass a list of {len(names)} columns in that order, or a dict "
                f"{{input name: column}}. Received: input_col={input_col!r}"
            )
    elif isinstance(input_col, Mapping):
        missing = [n for n in names if n not in input_col]
        unknown = [k for k in input_col if k not in names]
        if missing or unknown:
            raise ValueError(
                "Invalid value received for argument `input_col`. Expected a dict with one column "
                f"per model input ({listed}). Received: "
                + "; ".join(p for p in (missing and f"missing {missing}", unknown and f"unknown {unknown}") if p)
            )
        cols = [input_col[n] for n in names]
    elif isinstance(input_col, Sequence) and len(input_col) == len(names):
        cols = list(input_col)
    else:
        got = f"{len(input_col)} columns" if isinstance(input_col, Sequence) else type(input_col).__name__
        raise ValueError(
            f"Invalid value received for argument `input_col`. The model has {len(names)} input(s) "
            f"({listed}): pass one column name, a list of {len(names)} in the model's input order, "
            f"or a dict {{input name: column}}. Received: {got}"
        )
    for name in cols:
        if not isinstance(name, str) or name not in fields:
            raise ValueError(
                f"Invalid value received for argument `input_col`. Expected columns of `df` "
                f"({', '.join(fields)}). Received: {name!r}"
            )
        if not isinstance(fields[name].dataType, T.ArrayType):
            raise ValueError(
                "Invalid value received for argument `input_col`. Expected array<float> columns. "
                f"Received: {name!r} of type {fields[name].dataType.simpleString()}"
            )
    if len(set(cols)) != len(cols):
        raise ValueError(
            f"Invalid value received for argument `input_col`. Expected one column per input. Received: {cols}"
        )
    return cols


def mc_predict_spark(
    df,
    model_path: str | os.PathLike,
    *,
    input_col: str | Sequence[str] | dict[str, str],
    key_col: str,
    n_samples: int = 50,
    seed: int | None = None,
    keep_samples: bool = False,
    batch_size: int = 128,
    keep_columns: bool | Sequence[str] = False,
    memory_budget: int | None = None,
    tolerance: float | None = None,
    min_samples: int = 10,
    class_margin: float | None = None,
):
    """MC dropout prediction of every row of a Spark DataFrame, one output row per input.

    Args:
        df: A `pyspark.sql.DataFrame` with an input column and a key column.
        model_path: A saved `.keras` classifier with dropout and one output
            `(batch, *dims, classes)`, readable at this path by every Spark
            worker (local mode, or a shared file system).
        input_col: Column of `array<float>` (or `array<double>`): each input
            flattened in C order, reshaped to the model's input shape. For a
            model with several inputs, a list of columns in the model's input
            order, or a dict `{input name: column}` (the names of its
            `keras.Input(name=...)`).
        key_col: Integer column of unique keys: with a seed, an input's
            samples depend only on the seed and its key (as input `i` of
            `mc_predict` has key `i`).
        n_samples: MC samples per input.
        seed: Non-negative integer, or None (one random seed drawn here, on
            the driver, for the whole job).
        keep_samples: Add `samples` (`array<array<float>>`, one list of
            samples per class; per position and class for a dense output).
        batch_size: At most this many inputs per compiled call. Rows reach
            the workers in Arrow batches of `spark.sql.execution.arrow.maxRecordsPerBatch`.
        keep_columns: Also return the other columns of `df` (True), the
            named ones, or none (False).
        memory_budget: Bytes of activations one compiled call may use.
        tolerance, min_samples, class_margin: Adaptive sampling, as in `mc_predict`; adds
            the column `n_used` (int).

    Returns:
        A lazy DataFrame: `key_col`, the kept columns, `prediction` (int),
        `mean`, `variance` (`array<float>`, one per class),
        `predictive_entropy`, `mutual_information`, `variation_ratio` (float)
        and, with `keep_samples`, `samples`. For a dense output `(batch,
        *dims, classes)`, each row holds its maps flattened in C order:
        `prediction` (`array<int>`) and the three measures (`array<float>`)
        one value per position, `mean` and `variance` one per position and
        class. The summary columns' field metadata hold `mcbridge.dims`
        (`"H,W"`; `""` for a `(batch, classes)` output) and `mcbridge.classes`.

    With a local master and no `PYSPARK_PYTHON` set, the workers run this
    Python (see `use_this_python`); on a cluster, each worker's Python needs
    mcbridge, or the action fails with a message saying so.

    Raises:
        ValueError: a bad argument, a missing column, input columns that do
            not match the model's inputs, a non-integer key column, a model
            with several outputs (raised here, before any job runs); errors
            in the rows surface when an action runs.
        TypeError: an argument of the wrong type.
    """
    from pyspark.sql import types as T

    from mcbridge._checks import check_adaptive, check_seed, input_names, output_names, positive_int
    from mcbridge._predict_model import DEFAULT_MEMORY_BUDGET, _sampler_for
    from mcbridge.models import load_model

    n_samples = positive_int("n_samples", n_samples)
    batch_size = positive_int("batch_size", batch_size)
    memory_budget = positive_int("memory_budget", DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget)
    seed = check_seed(seed)
    tolerance, class_margin, min_samples = check_adaptive(tolerance, class_margin, min_samples, n_samples)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**63)
    if not isinstance(keep_samples, (bool, np.bool_)):
        raise TypeError(
            "Invalid value received for argument `keep_samples`. Expected True or "
            f"False. Received: keep_samples={keep_samples!r}"
        )
    fields = {f.name: f for f in df.schema.fields}
    if not isinstance(key_col, str) or key_col not in fields:
        raise ValueError(
            f"Invalid value received for argument `key_col`. Expected a column of `df` "
            f"({', '.join(fields)}). Received: key_col={key_col!r}"
        )
    if not isinstance(fields[key_col].dataType, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        raise ValueError(
            "Invalid value received for argument `key_col`. Expected an integer column. "
            f"Received: {key_col!r} of type {fields[key_col].dataType.simpleString()}"
        )
    model_path = os.path.abspath(os.fspath(model_path))
    # Read the model once here: a bad file or a model without dropout fails now, not in a task.
    model = load_model(model_path, compile=False)
    sampler = _sampler_for(model, any_shape=True)
    if len(sampler.output_shapes) != 1:
        raise ValueError(
            f"Model {model.name!r} has {len(sampler.output_shapes)} outputs ({', '.join(output_names(model))}); "
            "mc_predict_spark writes one output's summaries per row. Save one model per output you "
            "need, keras.Model(model.inputs, model.outputs[i]).save(...), and run one job on each "
            "(or use mcbridge.mc_predict, which takes several outputs)."
        )
    out_shape = sampler.output_shapes[0]
    input_cols = _input_columns(input_col, input_names(model), fields)
    if key_col in input_cols:
        raise ValueError(
            f"Invalid value received for argument `key_col`. Expected a column other than the inputs. "
            f"Received: key_col={key_col!r}"
        )
    if keep_columns is True:
        keep = [n for n in fields if n != key_col and n not in input_cols]
    elif keep_columns is False:
        keep = []
    else:
        keep = list(keep_columns)
        missing = [n for n in keep if n not in fields or n == key_col or n in input_cols]
        if missing:
            raise ValueError(
                "Invalid value received for argument `keep_columns`. Expected other columns "
                f"of `df`. Received: {missing}"
            )
    floats = T.ArrayType(T.FloatType(), containsNull=False)
    dense = len(out_shape) > 1  # per position: a list per row

    def per_position(t):
        return T.ArrayType(t, containsNull=False) if dense else t

    meta = {"mcbridge.dims": ",".join(map(str, out_shape[:-1])), "mcbridge.classes": str(out_shape[-1])}
    out = [fields[key_col], *(fields[n] for n in keep)]
    out += [
        T.StructField("prediction", per_position(T.IntegerType()), False, meta),
        T.StructField("mean", floats, False, meta),
        T.StructField("variance", floats, False, meta),
        T.StructField("predictive_entropy", per_position(T.FloatType()), False, meta),
        T.StructField("mutual_information", per_position(T.FloatType()), False, meta),
        T.StructField("variation_ratio", per_position(T.FloatType()), False, meta),
    ]
    if tolerance is not None or class_margin is not None:
        out.append(T.StructField("n_used", T.IntegerType(), False))
    if keep_samples:
        out.append(T.StructField("samples", T.ArrayType(floats, containsNull=False), False, meta))
    options = dict(model_path=model_path, input_cols=input_cols, key_col=key_col, keep=keep,
                   n_samples=n_samples, seed=seed, keep_samples=bool(keep_samples),
                   batch_size=batch_size, memory_budget=memory_budget, tolerance=tolerance,
                   min_samples=min_samples, class_margin=class_margin)

    use_this_python(df.sparkSession)
    run = _worker_function(options, _NO_MCBRIDGE)
    return df.select(key_col, *input_cols, *keep).mapInArrow(run, T.StructType(out))
