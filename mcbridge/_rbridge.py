"""The Python half of the R bridge (internal; not part of the public API).

The R package calls one function of this module per user call (R's
`mc_predict()` calls `predict()` once, and so on); `mcbridge.r` (rpy2) uses
its `export()` / `import_array()` too. Arrays cross by the Arrow C data
interface only: R passes the addresses of `struct ArrowArray` /
`struct ArrowSchema` pairs as strings, exported (inputs) or freshly allocated
for Python to fill (results). reticulate < 1.38 cannot convert NumPy 2
arrays, so nothing here returns an array to R.

R validates every argument before calling; what only the model can tell
(the input shape, the number of classes) is checked here, in the same call.
Those user errors, and the engine's own `ValueError` / `TypeError`, come back
as a plain dict `{"error": kind, "message": text}` that R turns into a classed
condition (`mcbridge_error_<kind>`) without a Python traceback. Anything else
(a bug, `KeyboardInterrupt`) propagates.

`calls` counts the calls into this module by function name: a test reads it
to check that one R call crosses into Python once.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import re
import time
import warnings
from typing import Any, Callable

import numpy as np

from mcbridge import arrow
from mcbridge._checks import MCBridgeWarning

__all__ = [
    "calls",
    "seconds",
    "export",
    "import_array",
    "predict",
    "predict_to_file",
    "fit",
    "train_on_batch",
    "evaluate",
    "build_cnn",
    "build_mlp",
    "load_model",
    "dataset",
    "train_ensemble",
    "save_ensemble",
    "load_ensemble",
]

#: Calls into this module by function name (crossings from R).
calls: collections.Counter = collections.Counter()

#: Seconds the last call of each function spent in Python (benchmarks read
#: it to separate R's own overhead from the engine's time).
seconds: dict = {}


class BridgeError(Exception):
    """A user error that R reports as `mcbridge_error_<kind>`."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


#: Python spellings in the engine's messages and their R twins (an R user
#: reads `from_logits = TRUE`, not `from_logits=True`).
_R_SPELLING = [
    (re.compile(r"\b(\w+)\.astype\('float32'\) / 255"), r"\1 / 255"),
    (re.compile(r"\b(from_logits|heteroscedastic|safe_mode|compile)=True\b"), r"\1 = TRUE"),
    (re.compile(r"\b(from_logits|heteroscedastic|safe_mode|compile)=False\b"), r"\1 = FALSE"),
    (re.compile(r"\b(precision|task)='(\w+)'"), r'\1 = "\2"'),
]


def _r_text(message: str) -> str:
    """An engine message in R's spelling (`from_logits = TRUE`, `x / 255`)."""
    for pattern, repl in _R_SPELLING:
        message = pattern.sub(repl, message)
    return message


def _entry(fn: Callable) -> Callable:
    """Counts the call; turns user errors into an error dict for R, and
    mcbridge's own warnings (`MCBridgeWarning`) into a `warnings` list R raises."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        calls[fn.__name__] += 1
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MCBridgeWarning)
            try:
                out = fn(*args, **kwargs)
            except BridgeError as e:
                return {"error": e.kind, "message": _r_text(str(e))}
            except (ValueError, TypeError) as e:
                return {"error": "python", "message": _r_text(f"{type(e).__name__}: {e}")}
            finally:
                seconds[fn.__name__] = time.perf_counter() - start
        for w in caught:  # anything else goes on as Python would show it
            if not issubclass(w.category, MCBridgeWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        said = [_r_text(str(w.message)) for w in caught if issubclass(w.category, MCBridgeWarning)]
        return {"value": out, "warnings": said} if said else {"value": out}

    return wrapper


# --------------------------------------------------------------------------
# arrays


def import_array(array_addr: Any, schema_addr: Any):
    """Imports an array exported by R (zero-copy: a view of R's buffer).

    Args:
        array_addr: Address of the exported `struct ArrowArray` (str or int).
        schema_addr: Address of the matching `struct ArrowSchema`.

    Returns:
        A Fortran-ordered `np.ndarray` with R's `dim` as its shape (or an
        `MCResult` for an `mc_prediction`).
    """
    return arrow.import_from_c(array_addr, schema_addr, copy=False)


def export(obj: Any, array_addr: Any, schema_addr: Any, **kwargs) -> None:
    """Exports an `MCResult` or array into structs that R allocated.

    Zero-copy when the data are Fortran-ordered (as `MCResult.samples` are).
    """
    arrow.export_to_c(obj, array_addr, schema_addr, **kwargs)


def _fit_x(model, x: np.ndarray, index: int = 0, label: str = "x") -> np.ndarray:
    """Adds a channel axis where input `index` of the model wants one; checks the shape.

    `label` names the input in messages (`x`, or `x[[2]]` / `x$image` for
    one of several).
    """
    try:
        expected = tuple(model.inputs[index].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        return x  # unknown input shape: the engine says what it needs
    if x.ndim == len(expected) - 1 and expected[-1] == 1:
        x = x[..., None]  # a view; F order is kept
    fits = x.ndim == len(expected) and all(
        e is None or e == a for e, a in zip(expected[1:], x.shape[1:])
    )
    if not fits:
        want = ", ".join(["n", *("?" if e is None else str(e) for e in expected[1:])])
        got = ", ".join(str(d) for d in x.shape)
        hint = ""
        if len(expected) == 4 and expected[-1] == 1:
            hint = f" (or c(n, {expected[1]}, {expected[2]}) for one channel)"
        raise BridgeError(
            "input",
            f"`{label}` has dim c({got}) but the model expects c({want}){hint}. "
            "Give inputs of the size the model was built for.",
        )
    return x


def _fit_inputs(model, x: Any) -> Any:
    """R's input(s) as `mc_predict` takes them.

    Args:
        model: A Keras model.
        x: `(array_addr, schema_addr)` of one exported array; or, for several
            inputs, `{"arrays": [(array_addr, schema_addr), ...], "names":
            [...] or None}` (R's list: named by input name, or in order).

    Returns:
        An array, a list of arrays in the model's input order, or a dict by
        input name.

    Raises:
        BridgeError: a list of the wrong length, names that are not the
            model's input names, or an input of the wrong shape.
    """
    if not isinstance(x, dict):
        return _fit_x(model, import_array(*x))
    from mcbridge._checks import input_names

    arrays, names = list(x["arrays"]), x.get("names")
    wanted = input_names(model)
    listed = ", ".join(f'"{n}"' for n in wanted)
    if names is None:
        if len(arrays) != len(wanted):
            raise BridgeError(
                "input",
                f"`x` is a list of {len(arrays)} arrays but the model has {len(wanted)} "
                f"input{'s' if len(wanted) != 1 else ''} ({listed}). Give one array per input, "
                "in the model's input order, or name them by input name.",
            )
        return [_fit_x(model, import_array(*a), i, f"x[[{i + 1}]]") for i, a in enumerate(arrays)]
    names = [str(n) for n in names]
    missing = [n for n in wanted if n not in names]
    unknown = [n for n in names if n not in wanted]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("lacks " + ", ".join(f'"{n}"' for n in missing))
        if unknown:
            parts.append("has " + ", ".join(f'"{n}"' for n in unknown) + " that the model does not")
        raise BridgeError(
            "input",
            f"`x` {' and '.join(parts)}: the model's inputs are {listed}. Name the list "
            "elements by input name, or leave them unnamed in the model's input order.",
        )
    by_name = dict(zip(names, arrays))
    return {n: _fit_x(model, import_array(*by_name[n]), wanted.index(n), f"x${n}") for n in wanted}


def _n_classes(model) -> int | None:
    try:
        c = model.outputs[0].shape[-1]
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return None if c is None else int(c)


def _sparse_labels(model) -> bool:
    """Whether the model's loss takes class codes (sparse categorical)."""
    loss = getattr(model, "loss", None)
    losses = loss.values() if isinstance(loss, dict) else loss if isinstance(loss, (list, tuple)) else [loss]
    for one in losses:
        name = getattr(one, "name", None) or getattr(one, "__name__", None) or str(one)
        if "sparse_categorical" in str(name).lower():
            return True
    return False


def _check_labels(model, y: np.ndarray) -> None:
    """Class codes for a model whose loss takes them; anything numeric else
    (real-valued targets of a regression model, one-hot matrices)."""
    if not _sparse_labels(model) or y.size == 0:
        return
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    c = _n_classes(model)
    if y.ndim != 1:
        raise BridgeError(
            "input",
            f"`y` has dim c({', '.join(map(str, y.shape))}) but the model's loss (sparse "
            "categorical cross-entropy) takes one class code per input; for one-hot rows "
            "pass max.col(y) - 1.",
        )
    if y.dtype.kind == "f" and np.any(y != np.round(y)):
        example = float(y[y != np.round(y)][0])
        raise BridgeError(
            "input",
            f"`y` holds real values (e.g. {example:g}) but the model's loss (sparse categorical "
            "cross-entropy) takes class codes 0, 1, ..., classes - 1. For regression, build "
            "the model with a regression loss, e.g. mc_mlp(task = \"regression\").",
        )
    if y.min() < 0:
        bad = int(np.count_nonzero(y < 0))
        raise BridgeError(
            "input",
            f"`y` holds {bad} negative labels (e.g. {float(y.min()):g}); class codes are "
            "0, 1, ..., classes - 1.",
        )
    if c is None:
        return
    top = int(y.max())
    if top >= c:
        bad = int(np.count_nonzero(y >= c))
        raise BridgeError(
            "input",
            f"`y` holds class codes up to {top}, but the model has {c} classes "
            f"(codes 0..{c - 1}); {bad} labels are out of range. Recode the labels "
            "(factor codes are used from 0) or build the model with more classes.",
        )


# --------------------------------------------------------------------------
# prediction

#: Seconds between two progress reports to R (at most 5 a second).
PROGRESS_INTERVAL = 0.2


@contextlib.contextmanager
def _progress_to(report: Callable[[int, int], Any]):
    """Sends the engine's progress (`done`, `total` chunks) to `report`.

    `mc_predict(progress=True)` reports each chunk to a `keras.utils.Progbar`;
    for the length of the call that class is replaced by one that calls R's
    `report` instead, at most every `PROGRESS_INTERVAL` seconds and once at
    the end, so R draws its own bar. (If the engine stops using
    `keras.utils.Progbar`, R's bar just stays empty.)
    """
    import keras

    class ToR:
        def __init__(self, target, *args, **kwargs):
            self.target = int(target or 0)
            self.last = float("-inf")

        def update(self, current, values=None, finalize=None):
            now = time.monotonic()
            if current >= self.target or now - self.last >= PROGRESS_INTERVAL:
                self.last = now
                report(int(current), self.target)

        def add(self, n, values=None):  # pragma: no cover - not used by the engine
            pass

    original = keras.utils.Progbar
    keras.utils.Progbar = ToR
    try:
        yield
    finally:
        keras.utils.Progbar = original


@_entry
def predict(
    model,
    x: Any,
    out: list,
    n_samples: int,
    batch_size: int,
    seed: int | None,
    from_logits: Any,
    memory_budget: float,
    task: Any,
    heteroscedastic: Any,
    precision: str,
    progress: bool | Callable[[int, int], Any],
    noise_out: list | None = None,
    tolerance: float | None = None,
    min_samples: int = 10,
    used_out: tuple | None = None,
    class_margin: float | None = None,
) -> dict:
    """`mcbridge.mc_predict` for R: inputs in, samples out, by the C interface.

    Args:
        model: A Keras model.
        x: `(array_addr, schema_addr)` of the exported input (R's array), or
            several inputs (see `_fit_inputs`).
        out: One `(array_addr, schema_addr)` pair of empty structs R allocated
            per model output; each output's `samples` `(n, *dims, classes,
            samples)` is exported into its pair (zero-copy).
        n_samples, batch_size, seed, precision, tolerance, min_samples,
            class_margin: As `mc_predict`.
        from_logits, task, heteroscedastic: One value, or a list of one per
            output.
        memory_budget: Bytes (a whole number; R may pass a double).
        progress: False, or R's function `(done, total)` that draws R's
            progress bar (see `_progress_to`).
        noise_out: One pair per output for the predicted noise variance of a
            heteroscedastic output (`None` entries for the others).
        used_out: With `tolerance` or `class_margin`: a pair for `n_used`,
            `(n,)` int32.

    Returns:
        `{"shapes": [shape of each output's samples], "names": [output names]}`.
    """
    from mcbridge._checks import output_names
    from mcbridge.predict import mc_predict

    # R's buffer is read in place (column-major): the engine copies each batch
    # of rows into the compiled call anyway, and mc_predict on a Fortran-
    # ordered x timed the same as on a C-ordered one (3.46 / 3.98 s against
    # 3.40 / 3.95 s, 1,000 x 30, interleaved), so no full copy is made here.
    from mcbridge.ensemble import Ensemble

    is_ensemble = isinstance(model, Ensemble)
    net = model.members[0] if is_ensemble else model
    xs = _fit_inputs(net, x)
    out = list(out)
    if len(out) != len(net.outputs):  # R counts the outputs before it allocates
        raise BridgeError("model", f"The model has {len(net.outputs)} outputs; R allocated {len(out)}.")
    report = progress if callable(progress) else None
    if is_ensemble and int(n_samples) == 1:
        report = None  # one deterministic predict per member: no MC chunks to report

    def one_or_list(v, kind):
        return [kind(e) for e in v] if isinstance(v, (list, tuple)) else kind(v)

    kwargs = {}  # (adaptive arguments only when asked for: an Ensemble takes none of them)
    if tolerance is not None or class_margin is not None:
        kwargs = {"tolerance": None if tolerance is None else float(tolerance),
                  "class_margin": None if class_margin is None else float(class_margin),
                  "min_samples": int(min_samples)}
    with _progress_to(report) if report is not None else contextlib.nullcontext():
        res = mc_predict(
            model,
            xs,
            n_samples=int(n_samples),
            batch_size=int(batch_size),
            seed=None if seed is None else int(seed),
            from_logits=one_or_list(from_logits, bool),
            progress=report is not None,
            memory_budget=int(memory_budget),
            task=one_or_list(task, str),
            heteroscedastic=one_or_list(heteroscedastic, bool),
            precision=str(precision),
            **kwargs,
        )
    results = res if isinstance(res, list) else [res]
    for i, (r, pair) in enumerate(zip(results, out)):
        # 3-d samples cross as MC samples (the Arrow contract); dense outputs,
        # and adaptive ones (NaN after each input's count), as plain arrays.
        export(r if r.samples.ndim == 3 and r.n_used is None else r.samples, *pair)
        if noise_out is not None and noise_out[i] is not None and r.noise_variance is not None:
            export(r.noise_variance, *noise_out[i])
    if used_out is not None:
        export(np.asarray(results[0].counts, dtype=np.int32), *used_out)
    return {
        "shapes": [[int(d) for d in r.samples.shape] for r in results],
        "names": output_names(net),
    }


@_entry
def predict_to_file(
    model,
    x: tuple | str,
    path: str,
    n_samples: int,
    batch_size: int,
    seed: int | None,
    keep_samples: bool,
    memory_budget: float,
    precision: str,
    progress: bool | Callable[[int, int], Any],
    tolerance: float | None = None,
    min_samples: int = 10,
    class_margin: float | None = None,
) -> str:
    """`mcbridge.predict_to_file` for R: one call, the file written by Python.

    Args:
        model: A Keras model.
        x: `(array_addr, schema_addr)` of R's exported input array (read in
            place), or the path of a `.npy` file (memory-mapped, read block
            by block).
        path: The output `.parquet` or `.arrow` (IPC stream) file.
        n_samples, batch_size, seed, keep_samples, tolerance, min_samples,
            class_margin: As `predict_to_file`.
        memory_budget: Bytes (a whole number; R may pass a double).
        precision: As `predict_to_file`.
        progress: False, or R's function `(done, total)` (inputs written,
            inputs in all), called once per written block.

    Returns:
        `path` as written (no file is left there on an error).
    """
    from mcbridge.stream import predict_to_file as to_file

    data = str(x) if isinstance(x, str) else _fit_x(model, import_array(*x))
    report = None
    if callable(progress):
        total = len(np.load(data, mmap_mode="r")) if isinstance(data, str) else len(data)

        def report(done: int) -> None:
            progress(int(done), int(total))

    written = to_file(
        model,
        data,
        str(path),
        n_samples=int(n_samples),
        batch_size=int(batch_size),
        seed=None if seed is None else int(seed),
        keep_samples=bool(keep_samples),
        memory_budget=int(memory_budget),
        progress=report,
        precision=str(precision),
        tolerance=None if tolerance is None else float(tolerance),
        min_samples=int(min_samples),
        class_margin=None if class_margin is None else float(class_margin),
    )
    return str(written)


# --------------------------------------------------------------------------
# training


def _xy(model, x: tuple, y: tuple):
    xs = _fit_x(model, import_array(*x))
    ys = np.asarray(import_array(*y))
    _check_labels(model, ys)
    return xs, ys


def _float(v) -> float:
    return float(np.asarray(v))


def _snapshot(model) -> Callable[[], None]:
    """Returns a function that puts back the model's and optimizer's state."""
    weights = [np.array(v) for v in model.weights]
    opt = getattr(model, "optimizer", None)
    opt_vars = list(getattr(opt, "variables", []) or []) if opt is not None else []
    opt_values = [np.array(v) for v in opt_vars]

    def restore() -> None:
        for v, w in zip(model.weights, weights):
            v.assign(w)
        for v, w in zip(opt_vars, opt_values):
            v.assign(w)

    return restore


def _keeping_state_on_interrupt(model, fn: Callable):
    """Runs `fn()`; on an interrupt the model is put back as it was.

    Any exception counts: an R interrupt that lands while R's epoch callback
    runs reaches Python as whatever reticulate makes of it, not always as a
    `KeyboardInterrupt`.
    """
    restore = _snapshot(model)
    try:
        return fn()
    except BaseException:
        restore()
        raise


class _EpochCallback:
    """A Keras callback calling R's `on_epoch(epoch, epochs, logs)`."""

    def __new__(cls, on_epoch, epochs: int):
        import keras

        class Cb(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                on_epoch(int(epoch) + 1, int(epochs), {str(k): _float(v) for k, v in (logs or {}).items()})

        return Cb()


@_entry
def fit(
    model,
    x: tuple,
    y: tuple,
    batch_size: int,
    epochs: int,
    validation_split: float,
    verbose: Any,
    on_epoch: Callable | None = None,
    callbacks: list | None = None,
) -> dict:
    """`model.fit` for R; an interrupt leaves weights and optimizer unchanged.

    Args:
        on_epoch: Optional R function called after each epoch with
            `(epoch, epochs, logs)` (R prints its own one-line log).
        callbacks: Extra Keras callbacks.

    Returns:
        The history: `{metric: [value per epoch]}` of plain floats.
    """
    xs, ys = _xy(model, x, y)
    cbs = list(callbacks or [])
    if on_epoch is not None:
        cbs.append(_EpochCallback(on_epoch, int(epochs)))

    def run():
        return model.fit(
            xs,
            ys,
            batch_size=int(batch_size),
            epochs=int(epochs),
            validation_split=float(validation_split),
            verbose=verbose if isinstance(verbose, str) else int(verbose),
            callbacks=cbs,
        )

    history = _keeping_state_on_interrupt(model, run)
    return {str(k): [_float(v) for v in vals] for k, vals in history.history.items()}


@_entry
def train_on_batch(model, x: tuple, y: tuple) -> dict:
    """`model.train_on_batch` for R: `{metric: value}` of plain floats."""
    xs, ys = _xy(model, x, y)
    logs = _keeping_state_on_interrupt(
        model, lambda: model.train_on_batch(xs, ys, return_dict=True)
    )
    return {str(k): _float(v) for k, v in dict(logs).items()}


@_entry
def evaluate(model, x: tuple, y: tuple, batch_size: int, verbose: Any) -> dict:
    """`model.evaluate` (dropout off) for R: `{metric: value}`."""
    xs, ys = _xy(model, x, y)
    logs = model.evaluate(
        xs,
        ys,
        batch_size=int(batch_size),
        verbose=verbose if isinstance(verbose, str) else int(verbose),
        return_dict=True,
    )
    return {str(k): _float(v) for k, v in dict(logs).items()}


# --------------------------------------------------------------------------
# models and data


@_entry
def build_cnn(**kwargs):
    """`mcbridge.build_cnn` with R's (already checked) arguments."""
    from mcbridge.models import build_cnn as _build

    for k in ("input_shape", "filters", "dropout"):
        kwargs[k] = tuple(kwargs[k])
    return _build(**kwargs)


@_entry
def build_mlp(**kwargs):
    """`mcbridge.models.build_mlp` with R's (already checked) arguments."""
    from mcbridge.models import build_mlp as _build

    for k in ("hidden_units", "dropout"):
        kwargs[k] = tuple(kwargs[k])
    return _build(**kwargs)


@_entry
def save_model(model, path: str) -> None:
    """`model.save(path)` keeping the class names R trained it on (`mcbridge_class_names`) in the file."""
    from mcbridge.models import save_model_with_class_names

    try:
        save_model_with_class_names(model, path)
    except OSError as e:
        raise BridgeError("io", f"Cannot write '{path}': {e}") from None


@_entry
def load_model(path: str, safe_mode: bool = True, compile: bool = True):
    """`mcbridge.load_model`; a refused or broken file is a user error."""
    from mcbridge.models import load_model as _load

    try:
        return _load(path, safe_mode=bool(safe_mode), compile=bool(compile))
    except (OSError, ValueError) as e:
        raise BridgeError("model", f"Cannot load '{path}': {e}") from None


@_entry
def dataset(name: str, path: str | None, outs: dict) -> None:
    """Exports a dataset's four arrays into R's structs.

    Args:
        name: `"digits"` or `"fashion_mnist"`.
        path: Directory of the IDX files (Fashion-MNIST) or None.
        outs: `{key: (array_addr, schema_addr)}` for `x_train`, `y_train`,
            `x_test`, `y_test`; images without the channel axis, unscaled.
    """
    from mcbridge import datasets

    try:
        if name == "fashion_mnist":
            (x_tr, y_tr), (x_te, y_te) = datasets.load_fashion_mnist(path=path, normalize=False)
        else:
            (x_tr, y_tr), (x_te, y_te) = datasets.load_digits(normalize=False)
    except FileNotFoundError as e:
        raise BridgeError("input", str(e)) from None

    def prep(a):
        a = np.asarray(a)
        if a.ndim == 4 and a.shape[-1] == 1:
            a = a[..., 0]
        return np.asfortranarray(a)

    arrays = {
        "x_train": prep(x_tr),
        "y_train": np.asarray(y_tr, dtype=np.int32),
        "x_test": prep(x_te),
        "y_test": np.asarray(y_te, dtype=np.int32),
    }
    for key, (a, s) in outs.items():
        export(arrays[key], a, s)


# --------------------------------------------------------------------------
# deep ensembles


class _LinesTo:
    """A text stream that sends each complete line to R's `report(line)`."""

    def __init__(self, report: Callable[[str], Any]):
        self.report = report
        self.buffer = ""

    def write(self, text: str) -> int:
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            self.report(line)
        return len(text)

    def flush(self) -> None:
        pass


def _ensemble_info(ens) -> dict:
    member = ens.members[0]
    return {
        "ensemble": ens,
        "k": len(ens),
        "input_shape": [None if d is None else int(d) for d in tuple(member.inputs[0].shape)[1:]],
        "outputs": _n_classes(member),
    }


@_entry
def train_ensemble(
    build: Callable | None,
    cnn: dict | None,
    x: tuple,
    y: tuple,
    k: int,
    epochs: int,
    batch_size: int,
    seed: int | None,
    progress: Callable[[str], Any] | None = None,
) -> dict:
    """`mcbridge.train_ensemble` for R: data in by the C interface, the ensemble out.

    Args:
        build: R's builder (a function returning a compiled Keras model), or
            None for the seed CNN built from `cnn`.
        cnn: Arguments of `mcbridge.build_cnn` (R's checked `mc_cnn()`
            arguments; `seed` is left out so members differ), used when
            `build` is None.
        x, y: `(array_addr, schema_addr)` of R's exported inputs and labels.
        k, epochs, batch_size, seed: As `train_ensemble`.
        progress: None, or R's function receiving each line of progress
            (one per member).

    Returns:
        `{"ensemble": Ensemble, "k": k, "input_shape": [...], "outputs": c}`.
    """
    from mcbridge.ensemble import train_ensemble as _train
    from mcbridge.models import build_cnn as _build_cnn

    if build is None:
        kwargs = dict(cnn or {})
        for key in ("input_shape", "filters", "dropout"):
            kwargs[key] = tuple(kwargs[key])
        kwargs["seed"] = None

        def build_fn():
            return _build_cnn(**kwargs)

    else:
        build_fn = build
    # One model built first tells the input shape and class count, so that
    # a channel axis is added and the labels are checked before training.
    probe = build_fn()
    if not hasattr(probe, "inputs"):
        raise BridgeError(
            "model", f"`build` must return a compiled Keras model, not an object of type {type(probe).__name__}."
        )
    xs, ys = _xy(probe, x, y)
    del probe
    stream = _LinesTo(progress) if callable(progress) else None
    with contextlib.redirect_stdout(stream) if stream is not None else contextlib.nullcontext():
        ens = _train(
            build_fn, xs, ys, k=int(k), epochs=int(epochs), batch_size=int(batch_size),
            seed=None if seed is None else int(seed), progress=stream is not None,
        )  # fmt: skip
    return _ensemble_info(ens)


@_entry
def save_ensemble(ensemble, path: str) -> None:
    """`Ensemble.save(path)`; a file that cannot be written is an I/O error."""
    try:
        ensemble.save(path)
    except OSError as e:
        raise BridgeError("io", f"Cannot write '{path}': {e}") from None


@_entry
def load_ensemble(path: str, safe_mode: bool = True, compile: bool = True) -> dict:
    """`mcbridge.load_ensemble`; a refused or broken file is a model error.

    Returns:
        As `train_ensemble`.
    """
    from mcbridge.ensemble import load_ensemble as _load

    try:
        ens = _load(path, safe_mode=bool(safe_mode), compile=bool(compile))
    except (OSError, ValueError) as e:
        raise BridgeError("model", f"Cannot load '{path}': {e}") from None
    return _ensemble_info(ens)


@_entry
def export_savedmodel(
    model, path: str, n_samples: int, precision: str, outputs, include_samples: bool, overwrite: bool,
    task, from_logits, batch_size: int, heteroscedastic=False, input_shape=None,
) -> str:
    """`mcbridge.export` of a Keras model or an `Ensemble` (R's `mc_export()`).

    `input_shape`: None, a list of ints (one input) or a list of them.

    `outputs`: None, names (a str or list), or a dict from output name to
    names (an R named list); `task`, `from_logits`, `heteroscedastic`: one
    value or a list of one per output. A target that cannot be written is
    an I/O error, a model the engine cannot sample or export a model error.

    Returns:
        The SavedModel's absolute path.
    """
    from mcbridge.export import export as _export

    def names(v):
        return [str(v)] if isinstance(v, str) else [str(o) for o in v]

    def per_output(v):
        return list(v) if isinstance(v, (list, tuple)) else v

    if isinstance(outputs, dict):
        outputs = {str(k): names(v) for k, v in outputs.items()}
    elif outputs is not None:
        outputs = names(outputs)
    try:
        return _export(
            model, path, n_samples=int(n_samples), precision=precision, outputs=outputs,
            include_samples=bool(include_samples), overwrite=bool(overwrite), task=per_output(task),
            from_logits=per_output(from_logits), heteroscedastic=per_output(heteroscedastic),
            batch_size=int(batch_size),
            input_shape=None if input_shape is None else [
                tuple(int(d) for d in s) if isinstance(s, (list, tuple)) else int(s) for s in input_shape
            ],
        )  # fmt: skip
    except OSError as e:
        raise BridgeError("io", str(e)) from None
    except ValueError as e:
        raise BridgeError("model", str(e)) from None
