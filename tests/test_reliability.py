"""Bad inputs at every Python entry point, one table row each (docs/RELIABILITY.md).

`ROWS` is the table: the entry point, the bad input, and what the user gets
(an exception type and the start of its message, a warning, or a result).
`test_bad_input` runs every row; `test_reliability_doc_matches_the_table`
checks that docs/RELIABILITY.md lists the same rows, so the document and the
tests cannot drift apart. `python tests/test_reliability.py` prints the rows
as Markdown for the document.
"""

from __future__ import annotations

import inspect
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from mcbridge._checks import ProbabilityOutputWarning, UnscaledInputWarning

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "RELIABILITY.md"


@dataclass(frozen=True)
class Row:
    id: str
    entry: str  # the entry point
    given: str  # the bad input, as the user writes it
    outcome: type  # exception or warning class, or `object` for "returns"
    message: str  # start of the message (exceptions / warnings) or what is returned
    call: Callable[["Models", Path], Any]


class Models:
    """Tiny models built on first use, shared by the rows (building is the slow part)."""

    def __init__(self):
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str):
        cache = self.__dict__["_cache"]
        if name not in cache:
            cache[name] = getattr(self, "_make_" + name)()
        return cache[name]

    @staticmethod
    def _make_cnn():
        import mcbridge

        return mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16,
                                  padding="same", seed=1)

    @staticmethod
    def _make_two_inputs():
        import keras

        a, b = keras.Input((4,), name="left"), keras.Input((4,), name="right")
        h = keras.layers.Dropout(0.5)(keras.layers.Concatenate()([a, b]))
        return keras.Model([a, b], keras.layers.Dense(3, activation="softmax")(h), name="two_inputs")

    @staticmethod
    def _make_two_outputs():
        import keras

        a = keras.Input((4,))
        h = keras.layers.Dropout(0.5)(a)
        return keras.Model(a, [keras.layers.Dense(3, activation="softmax")(h),
                               keras.layers.Dense(2, activation="softmax")(h)], name="two_outputs")

    @staticmethod
    def _make_image_output():
        import keras

        a = keras.Input((4,))
        h = keras.layers.Dropout(0.5)(a)  # an output whose size does not follow from the input's
        out = keras.layers.Lambda(lambda t: keras.ops.reshape(t, (-1, 2, 2)), output_shape=(None, 2), name="segment")(h)
        return keras.Model(a, out, name="image_output")

    @staticmethod
    def _make_no_dropout():
        import keras

        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")], name="no_dropout")

    @staticmethod
    def _make_logits():
        import keras

        a = keras.Input((4,))
        dense = keras.layers.Dense(3, kernel_initializer=keras.initializers.Constant(1.0))
        return keras.Model(a, dense(keras.layers.Dropout(0.5)(a)), name="logits")

    @staticmethod
    def _make_softmax_head():
        import keras

        a = keras.Input((4,))
        return keras.Model(a, keras.layers.Dense(3, activation="softmax")(keras.layers.Dropout(0.5)(a)),
                           name="softmax_head")

    @staticmethod
    def _make_plain_dropout():
        import keras

        return keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5),
                                 keras.layers.Dense(3, activation="softmax")], name="plain_dropout")


def X(n=4, dtype="float32"):
    """Inputs for `Models.cnn`: `(n, 8, 8, 1)` in [0, 1]."""
    return np.random.default_rng(0).random((n, 8, 8, 1)).astype(dtype)


def _predict(m, **kwargs):
    import mcbridge

    kwargs.setdefault("x", X())
    kwargs.setdefault("n_samples", 3)
    model = kwargs.pop("model", None) or m.cnn
    return mcbridge.mc_predict(model, **kwargs)


def _nan_x():
    x = X()
    x[0, 1, 2, 0], x[2, 0, 0, 0] = np.nan, np.inf
    return x


def _arrow_bytes(edit=None, values=None, type_=None):
    import pyarrow as pa

    from mcbridge import arrow

    schema = arrow.make_schema([2, 3], np.float32)
    meta = {k.decode(): v.decode() for k, v in schema.metadata.items()}
    if edit:
        meta.update(edit)
    type_ = type_ or pa.float32()
    schema = pa.schema([pa.field("values", type_)], metadata=meta)
    col = pa.array(np.arange(6, dtype=np.float32) if values is None else values, type=type_)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as w:
        w.write_batch(pa.record_batch([col], schema=schema))
    return sink.getvalue().to_pybytes()


def _read_bytes(tmp: Path, data: bytes):
    from mcbridge import arrow

    path = tmp / "in.arrow"
    path.write_bytes(data)
    return arrow.read_arrow(path)


def _foreign_table(tmp: Path):
    import pyarrow as pa

    from mcbridge import arrow

    table = pa.table({"a": [1, 2], "b": [3.0, 4.0]})
    with pa.OSFile(str(tmp / "t.arrow"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return arrow.read_arrow(tmp / "t.arrow")


def _truncated(tmp: Path):
    from mcbridge import arrow

    arrow.write_arrow(np.arange(100.0), tmp / "ok.arrow")
    return _read_bytes(tmp, (tmp / "ok.arrow").read_bytes()[:150])


def _import_plain_array():
    import pyarrow as pa
    from pyarrow.cffi import ffi

    from mcbridge import arrow

    c_array, c_schema = ffi.new("struct ArrowArray*"), ffi.new("struct ArrowSchema*")
    addr = lambda p: int(ffi.cast("uintptr_t", p))  # noqa: E731
    pa.array([1.0, 2.0])._export_to_c(addr(c_array), addr(c_schema))
    return arrow.import_from_c(addr(c_array), addr(c_schema))


def _subclassed():
    import keras

    import mcbridge

    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.drop = keras.layers.Dropout(0.5)
            self.out = keras.layers.Dense(3, activation="softmax")

        def call(self, x):
            return self.out(self.drop(x))

    net = Net()
    net(np.zeros((1, 4), "float32"))
    return mcbridge.mc_predict(net, np.zeros((2, 4), "float32"))


def _build(**kwargs):
    import mcbridge

    return lambda m, t: mcbridge.build_cnn(**kwargs)


IVA = "Invalid value received for argument"
RETURNS = object  # the row's outcome is a value, not an error

ROWS = [
    # mc_predict: arguments
    Row("n_samples-zero", "mc_predict", "n_samples=0", ValueError,
        f"{IVA} `n_samples`. Expected a positive integer. Received: n_samples=0",
        lambda m, t: _predict(m, n_samples=0)),
    Row("n_samples-negative", "mc_predict", "n_samples=-3", ValueError,
        f"{IVA} `n_samples`. Expected a positive integer", lambda m, t: _predict(m, n_samples=-3)),
    Row("n_samples-fraction", "mc_predict", "n_samples=2.5", TypeError,
        f"{IVA} `n_samples`. Expected a positive integer. Received: n_samples=2.5",
        lambda m, t: _predict(m, n_samples=2.5)),
    Row("n_samples-float", "mc_predict", "n_samples=30.0", TypeError,
        f"{IVA} `n_samples`. Expected a positive integer", lambda m, t: _predict(m, n_samples=30.0)),
    Row("n_samples-nan", "mc_predict", "n_samples=float('nan')", TypeError,
        f"{IVA} `n_samples`. Expected a positive integer", lambda m, t: _predict(m, n_samples=float("nan"))),
    Row("n_samples-bool", "mc_predict", "n_samples=True", TypeError,
        f"{IVA} `n_samples`. Expected a positive integer. Received: n_samples=True",
        lambda m, t: _predict(m, n_samples=True)),
    Row("n_samples-int32", "mc_predict", "n_samples=2**31", ValueError,
        f"{IVA} `n_samples`. Expected a positive integer of at most 2147483647",
        lambda m, t: _predict(m, n_samples=2**31)),
    Row("n_samples-none", "mc_predict", "n_samples=None", TypeError,
        f"{IVA} `n_samples`. Expected a positive integer", lambda m, t: _predict(m, n_samples=None)),
    Row("batch_size-str", "mc_predict", 'batch_size="128"', TypeError,
        f"{IVA} `batch_size`. Expected a positive integer. Received: batch_size='128'",
        lambda m, t: _predict(m, batch_size="128")),
    Row("batch_size-zero", "mc_predict", "batch_size=0", ValueError,
        f"{IVA} `batch_size`. Expected a positive integer", lambda m, t: _predict(m, batch_size=0)),
    Row("seed-negative", "mc_predict", "seed=-1", ValueError,
        f"{IVA} `seed`. Expected None or a non-negative integer", lambda m, t: _predict(m, seed=-1)),
    Row("seed-str", "mc_predict", 'seed="1"', TypeError,
        f"{IVA} `seed`. Expected None or a non-negative integer", lambda m, t: _predict(m, seed="1")),
    Row("seed-int64", "mc_predict", "seed=2**64", ValueError,
        f"{IVA} `seed`. Expected None or a non-negative integer of at most", lambda m, t: _predict(m, seed=2**64)),
    Row("memory_budget-zero", "mc_predict", "memory_budget=0", ValueError,
        f"{IVA} `memory_budget`. Expected a positive integer", lambda m, t: _predict(m, memory_budget=0)),
    Row("memory_budget-float", "mc_predict", "memory_budget=1e9", TypeError,
        f"{IVA} `memory_budget`. Expected a positive integer", lambda m, t: _predict(m, memory_budget=1e9)),
    Row("from_logits-int", "mc_predict", "from_logits=1", TypeError,
        f"{IVA} `from_logits`. Expected True or False. Received: from_logits=1",
        lambda m, t: _predict(m, from_logits=1)),
    Row("from_logits-str", "mc_predict", 'from_logits="yes"', TypeError,
        f"{IVA} `from_logits`. Expected True or False", lambda m, t: _predict(m, from_logits="yes")),
    Row("progress-str", "mc_predict", 'progress="no"', TypeError,
        f"{IVA} `progress`. Expected True or False", lambda m, t: _predict(m, progress="no")),
    # mc_predict: inputs
    Row("x-no-channel", "mc_predict", "x of shape (4, 8, 8) for an (8, 8, 1) model", ValueError,
        f"{IVA} `x`. Expected an array of shape (n, 8, 8, 1) for this model. Received: x.shape=(4, 8, 8). "
        "Add the channel axis", lambda m, t: _predict(m, x=X()[..., 0])),
    Row("x-wrong-size", "mc_predict", "x of shape (2, 9, 8, 1)", ValueError,
        f"{IVA} `x`. Expected an array of shape (n, 8, 8, 1)", lambda m, t: _predict(m, x=np.zeros((2, 9, 8, 1)))),
    Row("x-one-image", "mc_predict", "x of shape (8, 8, 1) (one image, no batch axis)", ValueError,
        f"{IVA} `x`. Expected an array of shape (n, 8, 8, 1)", lambda m, t: _predict(m, x=X()[0])),
    Row("x-nan", "mc_predict", "x with one NaN and one inf", ValueError,
        f"{IVA} `x`: it holds 2 NaN or infinite values (of 256)", lambda m, t: _predict(m, x=_nan_x())),
    Row("x-strings", "mc_predict", 'x = np.array([["a"]])', TypeError,
        f"{IVA} `x`. Expected a numeric (integer, float or bool) array. Received: x with dtype=<U1",
        lambda m, t: _predict(m, x=np.array([["a"]]))),
    Row("x-str", "mc_predict", 'x = "images.npy"', TypeError,
        f"{IVA} `x`. Expected a numeric array", lambda m, t: _predict(m, x="images.npy")),
    Row("x-ragged", "mc_predict", "x = [[1, 2], [3]] (ragged list)", TypeError,
        f"{IVA} `x`. Expected a numeric array of one shape", lambda m, t: _predict(m, x=[[1, 2], [3]])),
    Row("x-objects", "mc_predict", "x = np.array([None, 1.0])", TypeError,
        f"{IVA} `x`. Expected a numeric (integer, float or bool) array. Received: x with dtype=object",
        lambda m, t: _predict(m, x=np.array([None, 1.0]))),
    Row("x-none", "mc_predict", "x = None", TypeError, f"{IVA} `x`. Expected a numeric array",
        lambda m, t: _predict(m, x=None)),
    Row("x-list-of-lists", "mc_predict", "x = nested lists of shape (2, 8, 8, 1)", RETURNS,
        "samples of shape (2, 3, 3), float32",
        lambda m, t: _predict(m, x=X(2).tolist())),
    Row("x-empty", "mc_predict", "x of shape (0, 8, 8, 1)", RETURNS, "samples of shape (0, 3, 3), float32",
        lambda m, t: _predict(m, x=np.zeros((0, 8, 8, 1), "float32"))),
    Row("x-float64", "mc_predict", "x as float64", RETURNS, "samples of shape (4, 3, 3), float32",
        lambda m, t: _predict(m, x=X(dtype="float64"))),
    Row("x-float16", "mc_predict", "x as float16", RETURNS, "samples of shape (4, 3, 3), float32",
        lambda m, t: _predict(m, x=X(dtype="float16"))),
    Row("x-unscaled", "mc_predict", "uint8 images in 0..255, model without a Rescaling layer",
        UnscaledInputWarning, "`x` holds integers up to 255 (dtype uint8) and the model has no Rescaling "
        "layer: the inputs look unscaled", lambda m, t: _predict(m, x=np.linspace(0, 255, 256).reshape(4, 8, 8, 1).astype(np.uint8))),
    # mc_predict: models
    Row("model-path", "mc_predict", 'model = "model.keras"', TypeError,
        f"{IVA} `model`. Expected a keras.Model. Received: model='model.keras'",
        lambda m, t: _predict(m, model="model.keras")),
    Row("model-none", "mc_predict", "model = None", TypeError, f"{IVA} `model`. Expected a keras.Model",
        lambda m, t: __import__("mcbridge").mc_predict(None, X())),
    Row("model-two-inputs", "mc_predict", "one array for a model with two inputs", ValueError,
        "Invalid value received for argument `x`. The model has 2 inputs ('left', 'right'): pass a list of 2 arrays in that order, "
        "or a dict by name",
        lambda m, t: _predict(m, model=m.two_inputs, x=np.zeros((2, 4)))),
    Row("model-two-outputs", "mc_predict", "a task list of the wrong length", ValueError,
        "Invalid value received for argument `task`. Expected one value, or a list of 2 (one per model output)",
        lambda m, t: _predict(m, model=m.two_outputs, x=np.zeros((2, 4)), task=["classification"])),
    Row("model-image-output", "mc_predict", "an output of unknown size (batch, None, 2) on inputs of known size",
        ValueError, "Output 'segment' of model 'image_output' has shape (None, None, 2): it has axes of unknown size "
        "(None). mc_predict needs outputs of shape (batch, *dims, classes) with every size known: its size does not "
        "follow from the inputs' sizes", lambda m, t: _predict(m, model=m.image_output, x=np.zeros((2, 4)))),
    Row("x-dict-missing", "mc_predict", "a dict of inputs missing one", ValueError,
        f"{IVA} `x`. Expected a dict with one array per model input ('left', 'right'). Received: missing ['right']",
        lambda m, t: _predict(m, model=m.two_inputs, x={"left": np.zeros((2, 4))})),
    Row("tolerance-zero", "mc_predict", "tolerance=0", ValueError, f"{IVA} `tolerance`",
        lambda m, t: _predict(m, tolerance=0)),
    Row("class-margin-and-tolerance", "mc_predict", "tolerance and class_margin both", ValueError,
        "Give one stopping rule: `tolerance` (an input stops once its mean probabilities are that precise) or "
        "`class_margin` (once its predicted class is settled), not both",
        lambda m, t: _predict(m, tolerance=0.01, class_margin=2)),
    Row("class-margin-regression", "mc_predict", "class_margin for a regression output", ValueError,
        "class_margin needs a classification output (task='classification')",
        lambda m, t: _predict(m, class_margin=2, min_samples=2, task="regression")),
    Row("min-samples-above", "mc_predict", "min_samples above n_samples", ValueError,
        f"{IVA} `min_samples`. Expected at most n_samples (3)",
        lambda m, t: _predict(m, tolerance=0.01, min_samples=5)),
    Row("model-no-dropout", "mc_predict", "a model without any dropout layer", ValueError,
        "Model 'no_dropout' has no dropout layer (nor any other layer mcbridge samples), so MC prediction "
        "has nothing to sample",
        lambda m, t: _predict(m, model=m.no_dropout, x=np.zeros((2, 4)))),
    Row("model-subclassed", "mc_predict", "a subclassed keras.Model", ValueError,
        "Model 'net' is a subclassed model (Net)", lambda m, t: _subclassed()),
    Row("model-logits", "mc_predict", "a model with logit outputs, from_logits=False", ValueError,
        "The model's outputs are not probabilities", lambda m, t: _predict(m, model=m.logits, x=np.full((2, 4), 5.0))),
    Row("model-softmax-from-logits", "mc_predict", "from_logits=True on a model ending in softmax",
        ProbabilityOutputWarning,
        "from_logits=True, but model 'softmax_head' ends in a softmax",
        lambda m, t: _predict(m, model=m.softmax_head, x=np.zeros((2, 4)), from_logits=True)),
    Row("size-too-large", "mc_predict", "n_samples=2**31-1 for 1,000 inputs (26 TB of float32)", MemoryError,
        "The result of shape (n, classes, samples) = (1000, 3, 2147483647) needs 25,769,803,764,000 bytes",
        lambda m, t: _predict(m, x=np.zeros((1000, 8, 8, 1), "float32"), n_samples=2**31 - 1)),
    # switch / convert
    Row("switch-int", "set_mc_dropout", "enabled=1", TypeError,
        f"{IVA} `enabled`. Expected True or False", lambda m, t: __import__("mcbridge").set_mc_dropout(m.cnn, 1)),
    Row("switch-plain-dropout", "set_mc_dropout", "a model with plain Keras Dropout", ValueError,
        "Model 'plain_dropout' has Keras dropout layers (",
        lambda m, t: __import__("mcbridge").set_mc_dropout(m.plain_dropout, True)),
    Row("switch-not-model", "mc_dropout", 'mc_dropout("model")', TypeError,
        f"{IVA} `model`. Expected a keras.Model",
        lambda m, t: __import__("mcbridge").mc_dropout("model").__enter__()),
    Row("convert-not-model", "make_switchable", "make_switchable(None)", TypeError,
        f"{IVA} `model`. Expected a keras.Model", lambda m, t: __import__("mcbridge").make_switchable(None)),
    # build_cnn
    Row("cnn-too-small", "build_cnn", "input_shape=(8, 8, 1) with padding='valid'", ValueError,
        f"{IVA} `input_shape`. Expected images large enough for 2 blocks of a 3x3 convolution",
        _build(input_shape=(8, 8, 1))),
    Row("cnn-classes-str", "build_cnn", 'n_classes="10"', TypeError,
        f"{IVA} `n_classes`. Expected a positive integer", _build(n_classes="10")),
    Row("cnn-classes-zero", "build_cnn", "n_classes=0", ValueError,
        f"{IVA} `n_classes`. Expected a positive integer", _build(n_classes=0)),
    Row("cnn-rate-one", "build_cnn", "dropout=(0.25, 0.25, 1.0)", ValueError,
        f"{IVA} `dropout`. Expected 3 rates in [0, 1)", _build(dropout=(0.25, 0.25, 1.0))),
    Row("cnn-padding", "build_cnn", 'padding="full"', ValueError,
        f"{IVA} `padding`. Expected one of 'valid', 'same'", _build(padding="full")),
    Row("cnn-kernel-float", "build_cnn", "kernel_size=3.0", TypeError,
        f"{IVA} `kernel_size`. Expected a positive integer", _build(kernel_size=3.0)),
    # load_model
    Row("load-missing", "load_model", "a path that does not exist", FileNotFoundError,
        "Model file 'PATH' does not exist", lambda m, t: __import__("mcbridge").load_model(t / "none.keras")),
    Row("load-folder", "load_model", "a folder instead of a model file", IsADirectoryError,
        "'PATH' is a folder, not a model file. Pass the `.keras` file written by model.save()",
        lambda m, t: __import__("mcbridge").load_model(t)),
    Row("load-garbage", "load_model", "a file that is not a Keras model", ValueError,
        "'PATH' is not a Keras model file",
        lambda m, t: (t.joinpath("g.keras").write_bytes(b"junk"), __import__("mcbridge").load_model(t / "g.keras"))),
    Row("load-safe-mode-int", "load_model", "safe_mode=0", TypeError, f"{IVA} `safe_mode`. Expected True or False",
        lambda m, t: __import__("mcbridge").load_model(t / "none.keras", safe_mode=0)),
    # Arrow readers
    Row("arrow-empty", "read_arrow", "an empty file", ValueError,
        "'PATH' is empty (0 bytes), not an Arrow file", lambda m, t: _read_bytes(t, b"")),
    Row("arrow-random", "read_arrow", "5,000 random bytes", ValueError,
        "'PATH' (5,000 bytes) is not a readable Arrow IPC file: it is truncated, corrupt or another format",
        lambda m, t: _read_bytes(t, np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())),
    Row("arrow-truncated", "read_arrow", "a valid file cut after 150 bytes", ValueError,
        "'PATH' (150 bytes) is not a readable Arrow IPC file: it is truncated, corrupt or another format",
        lambda m, t: _truncated(t)),
    Row("arrow-foreign", "read_arrow", "a valid Arrow file with columns a, b", ValueError,
        "'PATH': This Arrow data is not an mcbridge array: it has 2 columns ['a', 'b'] and no mcbridge metadata", lambda m, t: _foreign_table(t)),
    Row("arrow-shape", "read_arrow", "shape metadata [2, 4] for 6 values", ValueError,
        "'PATH': The shape metadata [2, 4] needs 8 values but the data holds 6",
        lambda m, t: _read_bytes(t, _arrow_bytes({"mcbridge:shape": "[2, 4]"}))),
    Row("arrow-huge-shape", "read_arrow", "shape metadata [4e9, 1e6, 1e6] for 6 values", ValueError,
        "'PATH': The shape metadata [4000000000, 1000000, 1000000] needs 4,000,000,000,000,000,000,000 values",
        lambda m, t: _read_bytes(t, _arrow_bytes({"mcbridge:shape": "[4000000000, 1000000, 1000000]"}))),
    Row("arrow-version", "read_arrow", "mcbridge:format \"2\"", ValueError,
        "'PATH': Unknown mcbridge Arrow format version '2'; this mcbridge reads version '1'",
        lambda m, t: _read_bytes(t, _arrow_bytes({"mcbridge:format": "2"}))),
    Row("arrow-nulls", "read_arrow", "values with a null", ValueError,
        "'PATH': mcbridge Arrow data must not contain nulls. Received: 1 null value(s)",
        lambda m, t: _read_bytes(t, _arrow_bytes(values=[0.0, None, 2.0, 3.0, 4.0, 5.0]))),
    Row("arrow-strings", "read_arrow", "values of type string", TypeError,
        "mcbridge Arrow values must be integers, float32, float64 or bool. Received: values of type string",
        lambda m, t: _read_bytes(t, _arrow_bytes(values=list("abcdef"), type_=__import__("pyarrow").string()))),
    Row("arrow-missing", "read_arrow", "a path that does not exist", FileNotFoundError,
        "Arrow file 'PATH' does not exist",
        lambda m, t: __import__("mcbridge").read_arrow(t / "none.arrow")),
    Row("from-arrow-numpy", "from_arrow", "a NumPy array", TypeError,
        f"{IVA} `data`. Expected a pyarrow RecordBatch, Table or RecordBatchReader",
        lambda m, t: __import__("mcbridge.arrow").arrow.from_arrow(np.zeros(3))),
    Row("import-null", "import_from_c", "addresses 0, 0", ValueError,
        f"{IVA} `array_addr`. Expected a non-null memory address",
        lambda m, t: __import__("mcbridge.arrow").arrow.import_from_c(0, 0)),
    Row("import-plain-array", "import_from_c", "a plain (non-struct) exported array", ValueError,
        "The imported Arrow data is not an mcbridge array", lambda m, t: _import_plain_array()),
    # Arrow writers
    Row("result-nan", "MCResult", "samples holding NaN", ValueError,
        f"{IVA} `samples`. Expected finite numbers. Received: NaN or infinite values in 1 of 2 inputs (first: input 1)",
        lambda m, t: __import__("mcbridge").MCResult(np.array([[[0.5]], [[np.nan]]]))),
    Row("evaluate-dense-labels", "evaluate", "labels of another shape than a dense output's", ValueError,
        f"{IVA} `y`. Expected labels of shape (2, 3) (n, *dims): one per input and position",
        lambda m, t: __import__("mcbridge").evaluate(np.full((2, 3, 2, 4), 0.5), np.zeros((2, 2), int))),
    Row("to-file-missing-dir", "predict_to_file", "a file in a folder that does not exist", FileNotFoundError,
        "Cannot write 'PATH': the folder 'PATH' does not exist. Create the folder first", lambda m, t: __import__("mcbridge").predict_to_file(m.cnn, X(), t / "no" / "p.parquet")),
    Row("write-missing-dir", "write_arrow", "a path in a directory that does not exist", FileNotFoundError,
        "Cannot write 'PATH': the directory 'PATH' does not exist. Create it first", lambda m, t: __import__("mcbridge").write_arrow(np.zeros(3), t / "no" / "f.arrow")),
    Row("write-strings", "write_arrow", 'an array of strings', TypeError,
        f"{IVA} `obj`. Expected a numeric (integer, float or bool) array",
        lambda m, t: __import__("mcbridge").write_arrow(np.array(["a"]), t / "f.arrow")),
    Row("write-rows-str", "write_arrow", 'rows_per_batch="2"', TypeError,
        f"{IVA} `rows_per_batch`. Expected a positive integer",
        lambda m, t: __import__("mcbridge").write_arrow(np.zeros(3), t / "f.arrow", rows_per_batch="2")),
    Row("writer-block-shape", "ArrowWriter.write", "a block of shape (2, 3) for shape (4, 2)", ValueError,
        "Expected blocks of shape (rows, 2)",
        lambda m, t: __import__("mcbridge").ArrowWriter(t / "f.arrow", (4, 2), kind="array").write(np.ones((2, 3)))),
]



def _without_paths(text: str) -> str:
    """The message with quoted file paths (temporary directories) written as 'PATH'."""
    return re.sub(r"'/[^']*'", "'PATH'", text)


@pytest.fixture(scope="module")
def models():
    return Models()


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(row, models, tmp_path):
    if row.outcome is RETURNS:
        result = row.call(models, tmp_path)
        shape = tuple(int(d) for d in re.search(r"\(([\d, ]+)\)", row.message).group(1).split(","))
        assert result.samples.shape == shape and result.samples.dtype == np.float32
    elif issubclass(row.outcome, Warning):
        with pytest.warns(row.outcome) as record:
            try:
                row.call(models, tmp_path)
            except ValueError:
                pass  # a warning row may go on to fail later (not for these rows)
        texts = [str(w.message) for w in record]
        assert any(t.startswith(row.message) for t in texts), texts
    else:
        with pytest.raises(row.outcome) as info:
            row.call(models, tmp_path)
        text = _without_paths(str(info.value))
        assert text.startswith(row.message), text
        assert "Traceback" not in text and "\x1b[" not in text  # no nested traceback, no ANSI colours


# Interrupts ----------------------------------------------------------------


def _state(model):
    import mcbridge
    from mcbridge.switch import iter_layers

    return (
        [type(layer).__name__ + layer.name for layer in iter_layers(model)],
        [v.numpy().copy() for v in model.variables],
        [getattr(layer, "mc_enabled", None) for layer in iter_layers(model)],
        mcbridge.mc_dropout_enabled(model),
    )


def _same_state(a, b):
    assert a[0] == b[0] and a[2:] == b[2:]
    assert len(a[1]) == len(b[1]) and all(np.array_equal(u, v) for u, v in zip(a[1], b[1]))


#: Generator and coroutine frames: Python also "calls" them to close them, where
#: an exception is printed and ignored ("Exception ignored in"), not raised.
_GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _interrupt_after(calls: int):
    """A trace function raising KeyboardInterrupt at the `calls`-th call of an mcbridge function.

    Generators are not counted: the call that closes one (e.g. `next(genexpr)`
    leaving it unfinished) cannot pass an exception on, so counting them made
    the test depend on where the `calls`-th call happened to land.
    """
    count = [0]
    package = str(ROOT / "mcbridge")

    def tracer(frame, event, arg):
        code = frame.f_code
        if event == "call" and code.co_filename.startswith(package) and not code.co_flags & _GENERATOR_FLAGS:
            count[0] += 1
            if count[0] == calls:
                sys.settrace(None)
                raise KeyboardInterrupt
        return None

    return tracer, count


@pytest.mark.numeric  # the replay after the interrupt is compared bit for bit
@pytest.mark.parametrize("calls", [1, 3, 10, 30, 60, 120])
def test_interrupted_mc_predict_leaves_the_model_as_it_was(calls):
    """Ctrl-C at many points inside mc_predict: switch state, weights, layers unchanged."""
    import mcbridge

    def build():
        return mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16,
                                  padding="same", seed=1)

    # A twin (same seed, so the same weights) gives the reference, so that the
    # interrupted call is this model's first and may land in the sampler's build.
    model, x = build(), X(5)
    reference = mcbridge.mc_predict(build(), x, n_samples=4, seed=3, batch_size=2, progress=False)
    before = _state(model)
    tracer, count = _interrupt_after(calls)
    sys.settrace(tracer)
    try:
        with pytest.raises(KeyboardInterrupt):
            mcbridge.mc_predict(model, x, n_samples=4, seed=3, batch_size=2, progress=False)
    finally:
        sys.settrace(None)
    _same_state(before, _state(model))
    # A later call is not disturbed by the interrupted one: same seed, same bits.
    again = mcbridge.mc_predict(model, x, n_samples=4, seed=3, batch_size=2, progress=False)
    np.testing.assert_array_equal(again.samples, reference.samples)


def test_interrupted_fit_inside_mc_dropout_restores_the_switch():
    import mcbridge

    model = mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16,
                               padding="same", seed=1)
    layers = [type(layer).__name__ for layer in model.layers]

    class Stop(__import__("keras").callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with mcbridge.mc_dropout(model):
            model.fit(X(8), np.arange(8) % 3, epochs=1, batch_size=2, verbose=0, callbacks=[Stop()])
    assert not mcbridge.mc_dropout_enabled(model)
    assert [type(layer).__name__ for layer in model.layers] == layers


# The document --------------------------------------------------------------


def _outcome_name(row: Row) -> str:
    if row.outcome is RETURNS:
        return "returns"
    if issubclass(row.outcome, Warning):
        return row.outcome.__name__ + " (warning)"
    return row.outcome.__name__


def markdown_rows() -> list[str]:
    out = []
    for row in ROWS:
        message = row.message.replace("|", "\\|")
        if len(message) > 110:
            message = message[:107] + "..."
        out.append(f"| `{row.entry}` | {row.given.replace('|', '/')} | {_outcome_name(row)}: "
                   f"{message} | `tests/test_reliability.py::test_bad_input[{row.id}]` |")
    return out


def test_reliability_doc_matches_the_table():
    text = DOC.read_text()
    missing = [line for line in markdown_rows() if line not in text]
    assert not missing, "docs/RELIABILITY.md lacks rows (regenerate: python tests/test_reliability.py):\n" + \
        "\n".join(missing)
    # Every other test the document names exists.
    for path, name in re.findall(r"`(tests/test_\w+\.py)::(\w+)", text):
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M), f"{path}::{name} not found"
    # So does every R test the R section names (`file.R: test name`).
    r_section = text.split("\n## R\n", 1)[1]
    assert len(re.findall(r"^\| `", r_section, re.M)) >= 50  # R rows ("same": the test above)
    r_tests = re.findall(r"(test-[\w-]+\.R): ([^|]+?) \|", r_section)
    for path, name in r_tests:
        source = (ROOT / "r-package" / "tests" / "testthat" / path).read_text()
        plain = str.maketrans("", "", "\"'\\")  # quotes inside a name are escaped in R
        assert f"test_that({name}".translate(plain) in source.translate(plain), f"{path}: {name} not found"


if __name__ == "__main__":
    print("\n".join(markdown_rows()))
