"""Every argument and input check of mcbridge's public functions, one phrasing.

NumPy only at import (Keras is imported inside the one function that needs
it), so the Arrow readers and the CLI's argument parsing use it without
starting TensorFlow.

The rules, as Keras and scikit-learn's `check_scalar` apply them:

* `TypeError` for a wrong *type*: a `str`, `float` or `bool` where an integer
  is needed (`batch_size="128"`, `n_samples=2.5`, `n_samples=True`), an `int`
  where a bool is needed (`from_logits=1`), strings or objects as inputs.
* `ValueError` for a wrong *value* of the right type: zero, negative, beyond
  the integer range, an input of the wrong shape, NaN or infinite inputs.
* Messages start "Invalid value received for argument `name`. Expected ...
  Received: name=...", then say what to do.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Largest count accepted for `n_samples`, `batch_size` and the like (int32,
#: the range R's integers and TensorFlow's shape dimensions share).
INT32_MAX = 2**31 - 1
#: Largest seed and byte count (int64).
INT64_MAX = 2**63 - 1


class MCBridgeWarning(UserWarning):
    """Base of mcbridge's own warnings (the R bridge hands these to R)."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str, category: type[Warning]) -> None:
    """`warnings.warn` attributed to the first caller outside mcbridge.

    The warning names the user's own line however deep inside mcbridge it
    was raised (Python 3.12's `skip_file_prefixes`, for 3.10 and 3.11 too).
    """
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is the frame calling warn()
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, category, stacklevel=level)


class UnscaledInputWarning(MCBridgeWarning):
    """Integer images in 0..255 given to a model without a rescaling layer."""


class ProbabilityOutputWarning(MCBridgeWarning):
    """`from_logits=True` on a model whose outputs are already probabilities."""


def _received(name: str, value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"Received: {name}={text}"


def invalid(name: str, expected: str, value: Any, hint: str = "") -> str:
    """The message "Invalid value received for argument `name`. Expected ..."."""
    message = (
        f"Invalid value received for argument `{name}`. Expected {expected}. "
        f"{_received(name, value)}"
    )
    if not isinstance(value, (bool, int, float, str, type(None), np.generic)):
        message += f" (of type {type(value).__name__})"
    return message + (f". {hint}" if hint else "")


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not _is_bool(value)


# --------------------------------------------------------------------------
# scalars


def check_int(
    name: str,
    value: Any,
    *,
    minimum: int = 1,
    maximum: int = INT32_MAX,
    allow_none: bool = False,
) -> int | None:
    """Returns `value` as a Python `int` in `[minimum, maximum]`.

    Raises:
        TypeError: `value` is not an integer (a `bool`, `float`, `str`, ...),
            or None where None is not allowed.
        ValueError: `value` is outside `[minimum, maximum]`.
    """
    if value is None and allow_none:
        return None
    if minimum == 1:
        expected = "a positive integer"
    elif minimum == 0:
        expected = "a non-negative integer"
    else:
        expected = f"an integer >= {minimum}"
    if allow_none:
        expected = "None or " + expected
    if not _is_int(value):
        hint = ""
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            hint = f"Pass the number itself: {name}={value.strip()}"
        elif isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
            hint = f"Pass an int: {name}={int(value)}"
        raise TypeError(invalid(name, expected, value, hint))
    if value < minimum or value > maximum:
        what = f"{expected} of at most {maximum}" if value > maximum else expected
        raise ValueError(invalid(name, what, value))
    return int(value)


def positive_int(name: str, value: Any) -> int:
    """`check_int(name, value)`: a positive integer no larger than int32."""
    return check_int(name, value)


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """None or a non-negative integer up to int64."""
    return check_int(name, seed, minimum=0, maximum=INT64_MAX, allow_none=True)


def check_bool(name: str, value: Any) -> bool:
    """Returns `value` as a `bool`; `TypeError` unless it is `True` or `False`.

    `1`, `0`, `"true"` and None are refused: a flag must be spelled as one.
    """
    if not _is_bool(value):
        raise TypeError(invalid(name, "True or False", value))
    return bool(value)


def check_choice(name: str, value: Any, choices: tuple) -> Any:
    """`value` if it is one of `choices` (`ValueError` otherwise; `TypeError` for a wrong type)."""
    types = {type(c) for c in choices}
    if not isinstance(value, tuple(types)) or _is_bool(value) and bool not in types:
        raise TypeError(invalid(name, "one of " + ", ".join(map(repr, choices)), value))
    if value not in choices:
        raise ValueError(invalid(name, "one of " + ", ".join(map(repr, choices)), value))
    return value


#: The `precision` values every prediction entry point accepts.
PRECISIONS = ("float32", "bfloat16")


def check_precision(precision: Any) -> str:
    """`precision` if it is one of `PRECISIONS` (`TypeError` / `ValueError` otherwise).

    The argument only: what the CPU offers is decided after every argument
    is checked (`mcbridge._engine.plan.resolve_precision`), so an argument
    error never depends on the machine.
    """
    return check_choice("precision", precision, PRECISIONS)


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float = -math.inf,
    maximum: float = math.inf,
    min_open: bool = False,
    max_open: bool = False,
) -> float:
    """Returns `value` as a finite Python `float` within the bounds.

    Args:
        name: The argument's name in messages.
        value: An `int` or `float` (NumPy's too; a `bool` is refused).
        minimum, maximum: The bounds.
        min_open, max_open: Whether a bound itself is excluded.

    Raises:
        TypeError: `value` is not a real number (a `str`, `bool`, None, ...).
        ValueError: `value` is NaN, infinite or outside the bounds.
    """
    if minimum == 0 and maximum == math.inf:
        expected = "a positive number" if min_open else "a non-negative number"
    elif minimum == -math.inf and maximum == math.inf:
        expected = "a finite number"
    else:
        expected = (
            f"a number in {'(' if min_open else '['}{minimum:g}, {maximum:g}{')' if max_open else ']'}"
        )
    if _is_bool(value) or not isinstance(value, (int, float, np.integer, np.floating)):
        hint = ""
        if isinstance(value, str):
            try:
                hint = f"Pass the number itself: {name}={float(value)!r}"
            except ValueError:
                pass
        raise TypeError(invalid(name, expected, value, hint))
    low_ok = value > minimum if min_open else value >= minimum
    high_ok = value < maximum if max_open else value <= maximum
    if not (math.isfinite(value) and low_ok and high_ok):
        raise ValueError(invalid(name, expected, value))
    return float(value)


#: The tasks a prediction is for (also `mcbridge.result.TASKS`).
TASKS = ("classification", "regression")


def check_task(task: Any, from_logits: Any, heteroscedastic: Any) -> tuple[str, bool, bool]:
    """`(task, from_logits, heteroscedastic)` of a prediction, checked together.

    Raises:
        TypeError: `task` is not a string, or a flag is not `True`/`False`.
        ValueError: an unknown `task`, `from_logits=True` for regression, or
            `heteroscedastic=True` for classification.
    """
    task = check_choice("task", task, TASKS)
    from_logits = check_bool("from_logits", from_logits)
    heteroscedastic = check_bool("heteroscedastic", heteroscedastic)
    if task == "regression" and from_logits:
        raise ValueError(
            "Invalid value received for argument `from_logits`. Expected False "
            "for task='regression': the softmax of from_logits=True applies to "
            "classification only (class logits). Received: from_logits=True"
        )
    if heteroscedastic and task != "regression":
        raise ValueError(
            "Invalid value received for argument `heteroscedastic`. Expected "
            "False unless task='regression'. Received: heteroscedastic=True"
        )
    return task, from_logits, heteroscedastic


# --------------------------------------------------------------------------
# models


def check_model(model: Any, name: str = "model") -> None:
    """Raises `TypeError` unless `model` is a `keras.Model`."""
    import keras

    if not isinstance(model, keras.Model):
        hint = ""
        if isinstance(model, (str, os.PathLike)):
            hint = "Load a saved model first: mcbridge.load_model(path)"
        raise TypeError(invalid(name, "a keras.Model", model, hint))


def model_io(model: Any, purpose: str = "mc_predict") -> tuple[list[tuple], list[tuple]]:
    """`(inputs, outputs)` of a built graph model: `[(shape, dtype), ...]` and `[shape, ...]` (batch axis first).

    Raises:
        ValueError: a subclassed model, or a model that is not built.
    """
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    graph = type(model).__name__ in ("Sequential", "Functional")
    if not inputs and not graph:
        raise ValueError(
            f"Model {model.name!r} is a subclassed model ({type(model).__name__}); "
            f"{purpose} needs a Sequential or functional model, whose graph it can "
            "rebuild. For a subclassed model built with mcbridge.layers.MCDropout, "
            "switch MC dropout on with mcbridge.mc_dropout(model) and call the "
            "model yourself."
        )
    if not inputs:
        raise ValueError(
            f"Model {model.name!r} has no known input shape. Build it first, "
            "e.g. by calling it once on a batch: model(x[:1])."
        )
    outputs = list(getattr(model, "outputs", None) or [])
    return [(tuple(t.shape), t.dtype) for t in inputs], [tuple(t.shape) for t in outputs]


def input_names(model: Any) -> list[str]:
    """The names of `model`'s inputs, in order (those a dict `x` is keyed by)."""
    return [t._keras_history[0].name for t in model.inputs]  # (the InputLayer's: `keras.Input(name=...)`)


def output_names(model: Any) -> list[str]:
    """The names of `model`'s outputs, in order: the layers that compute them."""
    names = getattr(model, "output_names", None)
    if names and len(names) == len(model.outputs):
        return [str(n) for n in names]
    return [t._keras_history[0].name for t in model.outputs]


def check_single_io(model: Any, purpose: str = "mc_predict") -> tuple[tuple, Any]:
    """`(input_shape, input_dtype)` of a built model with one input and one output.

    Raises:
        ValueError: the model is not built, or has several inputs or outputs.
    """
    inputs, outputs = model_io(model, purpose)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            f"Model {model.name!r} has {len(inputs)} inputs and {len(outputs)} "
            f"outputs; {purpose} needs a model with one input and one output "
            "(mcbridge.mc_predict takes several). Wrap the part you want in a "
            "keras.Model(inputs, one_output) first."
        )
    return inputs[0]


def check_classifier_output(
    model: Any, out_shape: Any, purpose: str = "mc_predict", task: str = "classification"
) -> int:
    """Entries per output row; `ValueError` unless `out_shape` is `(batch, classes)`.

    For `task="regression"` the output is `(batch, outputs)`.
    """
    shape = None if out_shape is None else tuple(out_shape)
    if shape is None or len(shape) != 2 or shape[1] is None:
        if task == "regression":
            raise ValueError(
                f"Model {model.name!r} has output shape {shape}; {purpose} needs "
                "a regression model whose output has shape (batch, outputs). "
                "Flatten the output first, or use mcbridge.mc_predict, which "
                "takes outputs of any rank."
            )
        raise ValueError(
            f"Model {model.name!r} has output shape {shape}; {purpose} needs a "
            "classifier whose output has shape (batch, classes). Flatten or "
            "pool the output (e.g. keras.layers.GlobalAveragePooling2D) and end "
            "with Dense(classes, activation='softmax'), or use "
            "mcbridge.mc_predict, which takes outputs of any rank."
        )
    return int(shape[1])


def check_output_shapes(model: Any, shapes: list[tuple], purpose: str = "mc_predict") -> list[tuple]:
    """Each output's shape but the batch axis, `(*dims, classes)`, all known.

    Raises:
        ValueError: an output without a class (or output) axis, or with an
            axis of unknown size.
    """
    names = output_names(model)
    sized_inputs = all(d is not None for t in model.inputs for d in t.shape[1:])
    out = []
    for name, shape in zip(names, shapes):
        if len(shape) < 2 or any(d is None for d in shape[1:]):
            what = "has no axis after the batch axis" if len(shape) < 2 else "has axes of unknown size (None)"
            way_out = (
                "its size does not follow from the inputs' sizes (a Lambda without output_shape, a "
                "reshape to -1): give it, e.g. keras.layers.Lambda(f, output_shape=(64, 3))."
                if sized_inputs
                else "build the model on an input of fixed shape, e.g. keras.Input((128, 128, 3)) "
                "instead of keras.Input((None, None, 3))."
            )
            raise ValueError(
                f"Output {name!r} of model {model.name!r} has shape {shape}: it {what}. "
                f"{purpose} needs outputs of shape (batch, *dims, classes) with every size known: {way_out}"
            )
        out.append(tuple(int(d) for d in shape[1:]))
    return out


def per_output(name: str, value: Any, n_outputs: int, check: Any) -> list:
    """`value` for each of `n_outputs` outputs: one value for all, or a list or tuple of one per output.

    Raises:
        ValueError: a list of the wrong length.
    """
    if isinstance(value, (list, tuple)):
        if len(value) != n_outputs:
            raise ValueError(
                f"Invalid value received for argument `{name}`. Expected one value, or "
                f"a list of {n_outputs} (one per model output). Received: {len(value)} values"
            )
        return [check(v) for v in value]
    return [check(value)] * n_outputs


def check_adaptive(
    tolerance: Any, class_margin: Any, min_samples: Any, n_samples: int
) -> tuple[float | None, float | None, int]:
    """`(tolerance, class_margin, min_samples)` of adaptive sampling; both None: a fixed `n_samples`.

    Raises:
        TypeError: a tolerance or margin that is not a number, `min_samples` not an integer.
        ValueError: a tolerance or margin that is not positive, both given, `min_samples`
            below 2 or above `n_samples`.
    """
    min_samples = check_int("min_samples", min_samples, minimum=2)
    if tolerance is not None:
        tolerance = check_number("tolerance", tolerance, minimum=0, maximum=math.inf, min_open=True)
    if class_margin is not None:
        class_margin = check_number("class_margin", class_margin, minimum=0, maximum=math.inf, min_open=True)
    if tolerance is None and class_margin is None:
        return None, None, min_samples
    if tolerance is not None and class_margin is not None:
        raise ValueError(
            "Give one stopping rule: `tolerance` (an input stops once its mean probabilities are that precise) "
            "or `class_margin` (once its predicted class is settled), not both. "
            f"Received: tolerance={tolerance}, class_margin={class_margin}"
        )
    if min_samples > n_samples:
        raise ValueError(
            "Invalid value received for argument `min_samples`. Expected at most n_samples "
            f"({n_samples}): every input gets at least min_samples samples, at most n_samples. "
            f"Received: min_samples={min_samples}"
        )
    return tolerance, class_margin, min_samples


def class_groups(shapes: Sequence, tasks: Sequence[str]) -> list[tuple[int, int, int]]:
    """Where the classes of each classification output lie among the engine's flat entries.

    Returns:
        `(start, positions, classes)` per classification output: entries
        `start + p + positions * c` (Fortran order of `(*dims, classes)`).

    Raises:
        ValueError: no classification output, or one with fewer than 2 classes
            (`class_margin` compares a model's two most probable classes).
    """
    groups, start = [], 0
    for shape, task in zip(shapes, tasks):
        size = int(np.prod(shape))
        if task == "classification":
            if shape[-1] < 2:
                raise ValueError(f"class_margin compares the two most probable classes; an output has {shape[-1]}.")
            groups.append((start, size // shape[-1], int(shape[-1])))
        start += size
    if not groups:
        raise ValueError("class_margin needs a classification output (task='classification'); use `tolerance` "
                         "for regression outputs.")
    return groups


def check_tasks(task: Any, from_logits: Any, heteroscedastic: Any, n_outputs: int) -> list[tuple[str, bool, bool]]:
    """`check_task` for each of `n_outputs` outputs; each argument one value or one per output."""
    tasks = per_output("task", task, n_outputs, lambda t: check_choice("task", t, TASKS))
    logits = per_output("from_logits", from_logits, n_outputs, lambda v: check_bool("from_logits", v))
    hetero = per_output("heteroscedastic", heteroscedastic, n_outputs, lambda v: check_bool("heteroscedastic", v))
    return [check_task(*args) for args in zip(tasks, logits, hetero)]


def outputs_probabilities(model: Any) -> bool:
    """Whether the model's last layer ends in a softmax (or a sigmoid).

    Read from the layer configuration, so nothing is computed.
    """
    layers = getattr(model, "layers", None) or []
    if not layers:
        return False
    last = layers[-1]
    if hasattr(last, "layers") and getattr(last, "layers", None):  # a nested model
        return outputs_probabilities(last)
    if type(last).__name__ == "Softmax":
        return True
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", str(activation) if activation else "")
    return name in ("softmax", "sigmoid")


def warn_from_logits(model: Any, from_logits: bool) -> None:
    """Warns when `from_logits=True` is asked of a model that outputs probabilities."""
    if from_logits and outputs_probabilities(model):
        warn(
            f"from_logits=True, but model {model.name!r} ends in a softmax: its "
            "outputs already sum to 1, and a second softmax flattens them towards "
            "uniform. Use from_logits=False for this model.",
            ProbabilityOutputWarning,
        )


def has_rescaling(model: Any) -> bool:
    """Whether any layer of `model` (nested models included) rescales or normalises inputs."""
    stack = list(getattr(model, "layers", []) or [])
    while stack:
        layer = stack.pop()
        if type(layer).__name__ in ("Rescaling", "Normalization"):
            return True
        stack.extend(getattr(layer, "layers", []) or [])
    return False


def check_probabilities(out: np.ndarray) -> None:
    """`ValueError` unless `out` (`(..., classes, ...)` along axis 1) holds probabilities."""
    if out.size == 0:
        return
    sums = out.sum(axis=1, dtype=np.float64)
    spread = float(np.max(np.abs(sums - 1)))
    if out.min() < -1e-5 or out.max() > 1 + 1e-5 or spread > 1e-3:
        raise ValueError(
            "The model's outputs are not probabilities (they must lie in [0, 1] "
            f"and sum to 1 over classes; received values in [{out.min():.4g}, "
            f"{out.max():.4g}] with row sums up to {spread + 1:.4g}). "
            "If the model outputs logits, call mc_predict(..., from_logits=True)."
        )


# --------------------------------------------------------------------------
# inputs


def _shape_text(expected: tuple) -> str:
    return "(n, " + ", ".join("?" if d is None else str(d) for d in expected[1:]) + ")"


def as_numeric_array(x: Any, name: str = "x") -> np.ndarray:
    """`np.asarray(x)`; `TypeError` for strings, objects, ragged lists and complex numbers."""
    if x is None or isinstance(x, (str, bytes, dict, set)):
        raise TypeError(invalid(name, "a numeric array", x if x is None else type(x).__name__))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.asarray(x)
    except (ValueError, TypeError) as err:  # ragged lists and the like
        raise TypeError(
            f"Invalid value received for argument `{name}`. Expected a numeric "
            f"array of one shape. Received: {name} of type {type(x).__name__} "
            f"that NumPy cannot convert ({str(err).splitlines()[0]})"
        ) from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"Invalid value received for argument `{name}`. Expected a numeric "
            f"(integer, float or bool) array. Received: {name} with dtype={arr.dtype}"
            + (". Convert strings to numbers first" if arr.dtype.kind in "USO" else "")
        )
    return arr


def count_nonfinite(arr: np.ndarray) -> int:
    """Number of NaN or infinite values (0 for integer arrays), in blocks of rows."""
    if arr.dtype.kind != "f" or arr.size == 0:
        return 0
    rows = max(1, (1 << 24) // max(1, arr[0].size))  # about 16M values at a time
    return int(
        sum(
            arr[i : i + rows].size - np.count_nonzero(np.isfinite(arr[i : i + rows]))
            for i in range(0, arr.shape[0], rows)
        )
    )


def check_x(
    x: Any,
    expected: tuple,
    dtype: Any = "float32",
    *,
    rescales: bool = True,
    name: str = "x",
) -> np.ndarray:
    """Checks model inputs and returns them as `dtype` (float32 for the usual model).

    Args:
        x: Inputs, shape `(n, *expected[1:])`; `n` may be 0.
        expected: The model's input shape, `expected[0]` the batch axis.
        dtype: The model's input dtype; float16/float64 inputs are cast to it.
        rescales: Whether the model rescales its inputs itself. When it does
            not, integer inputs with values above 1 (images in 0..255) warn.
        name: The argument's name in messages.

    Returns:
        The checked array.

    Raises:
        TypeError: `x` is not numeric (strings, objects, ragged lists).
        ValueError: `x` has the wrong shape or holds NaN or infinite values.
    """
    arr = as_numeric_array(x, name)
    expected = tuple(expected)
    want = _shape_text(expected)
    fits = arr.ndim == len(expected) and all(
        d is None or d == a for d, a in zip(expected[1:], arr.shape[1:])
    )
    if not fits:
        hint = ""
        one = arr.ndim == len(expected) - 1 and all(d is None or d == a for d, a in zip(expected[1:], arr.shape))
        if one:
            hint = f" This looks like one input without the batch axis: add it with {name}[None]."
        elif arr.ndim == len(expected) - 1 and expected[-1] == 1:
            hint = f" Add the channel axis with {name}[..., None]."
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected an array of "
            f"shape {want} for this model. Received: {name}.shape={arr.shape}.{hint}"
        )
    if arr.dtype.kind in "iub" and np.dtype(dtype).kind == "f" and not rescales and arr.size and arr.max() > 1:
        warn(
            f"`{name}` holds integers up to {arr.max()} (dtype {arr.dtype}) and the "
            "model has no Rescaling layer: the inputs look unscaled. If the model "
            "was trained on images in [0, 1], divide by 255 first "
            f"({name} = {name}.astype('float32') / 255).",
            UnscaledInputWarning,
        )
    arr = arr.astype(dtype, copy=False)
    bad = count_nonfinite(arr)
    if bad:
        raise ValueError(
            f"Invalid value received for argument `{name}`: it holds {bad} NaN or "
            f"infinite value{'s' if bad != 1 else ''} (of {arr.size}). Remove or "
            "impute them before predicting."
        )
    return arr


def _from_dataset(x: Any) -> Any:
    """The inputs of a `tf.data.Dataset` of `x` or `(x, y[, w])` batches, concatenated; other `x` as they are."""
    if not (type(x).__module__.startswith("tensorflow") and hasattr(x, "as_numpy_iterator")):
        return x
    batches = [b[0] if isinstance(b, tuple) else b for b in x.as_numpy_iterator()]
    if not batches:
        raise ValueError("Invalid value received for argument `x`: the tf.data.Dataset yields no batches.")
    if isinstance(batches[0], dict):
        return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    if isinstance(batches[0], (list, tuple)):
        return [np.concatenate([b[i] for b in batches]) for i in range(len(batches[0]))]
    return np.concatenate(batches)


def check_inputs(
    x: Any, specs: list[tuple], names: list[str], *, rescales: bool = True, name: str = "x"
) -> list[np.ndarray]:
    """`check_x` for each input of a model: one array each, with the same first dimension.

    Args:
        x: An array (one input); a list or tuple of arrays in the model's
            input order, or a dict of arrays by input name (several); or a
            `tf.data.Dataset` of `x` or `(x, y)` batches.
        specs: `(shape, dtype)` of each input (`model_io`).
        names: The inputs' names (`input_names`).

    Returns:
        The checked arrays, in the model's input order.

    Raises:
        TypeError, ValueError: as `check_x`; a dict with missing or unknown
            names, a list of the wrong length, or inputs of different lengths.
    """
    x = _from_dataset(x)
    if len(specs) == 1:
        if isinstance(x, dict) and len(x) == 1:
            x = next(iter(x.values()))
        elif isinstance(x, (list, tuple)) and len(x) == 1 and not np.isscalar(x[0]) and np.ndim(x[0]) > 0 and (
            np.ndim(x[0]) == len(specs[0][0])
        ):
            x = x[0]
        return [check_x(x, specs[0][0], specs[0][1], rescales=rescales, name=name)]
    listed = ", ".join(repr(n) for n in names)
    if isinstance(x, dict):
        missing = [n for n in names if n not in x]
        unknown = [k for k in x if k not in names]
        if missing or unknown:
            raise ValueError(
                f"Invalid value received for argument `{name}`. Expected a dict with one array "
                f"per model input ({listed}). Received: "
                + "; ".join(p for p in (missing and f"missing {missing}", unknown and f"unknown {unknown}") if p)
            )
        x = [x[n] for n in names]
    elif not isinstance(x, (list, tuple)) or len(x) != len(specs):
        got = f"a list of {len(x)}" if isinstance(x, (list, tuple)) else type(x).__name__
        raise ValueError(
            f"Invalid value received for argument `{name}`. The model has {len(specs)} inputs "
            f"({listed}): pass a list of {len(specs)} arrays in that order, or a dict by name. "
            f"Received: {got}"
        )
    arrays = [
        check_x(a, shape, dtype, rescales=rescales, name=f"{name}[{n!r}]")
        for a, (shape, dtype), n in zip(x, specs, names)
    ]
    lengths = {n: a.shape[0] for n, a in zip(names, arrays)}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected the same number of rows "
            f"in every input (one row per example). Received: {lengths}"
        )
    return arrays


def named_codes(y: Any, class_names, name: str = "y") -> Any:
    """Labels given by name (strings, a pandas categorical) as their codes in `class_names`; other `y` as it is.

    The rule R's labels follow too: names are matched to the result's class
    names, never taken by their order.

    Raises:
        ValueError: names without class names to match, or names that are not
            class names (listed).
    """
    if isinstance(y, (str, bytes)) or y is None or (hasattr(y, "dtype") and getattr(y.dtype, "kind", "") in "biuf"):
        return y
    values = np.asarray(y, dtype=object) if hasattr(y, "cat") or type(y).__name__ == "Categorical" else np.asarray(y)
    if values.dtype.kind not in "USO" or not values.size or not all(isinstance(v, str) for v in values.reshape(-1)):
        return y
    if class_names is None:
        raise ValueError(
            f"Invalid value received for argument `{name}`: labels given by name "
            f"(e.g. {str(values.reshape(-1)[0])!r}) need the result's class names to be matched to: set "
            "result.class_names = [...] (in the model's class order), or pass integer codes 0..classes-1."
        )
    index = {str(c): i for i, c in enumerate(class_names)}
    unknown = sorted({str(v) for v in values.reshape(-1) if v not in index})
    if unknown:
        shown = ", ".join(map(repr, unknown[:5])) + (f", ... ({len(unknown)} in all)" if len(unknown) > 5 else "")
        raise ValueError(
            f"Invalid value received for argument `{name}`: labels {shown} are not class names of "
            f"the result ({', '.join(map(repr, list(index)[:10]))}). Recode them to the class names."
        )
    return np.vectorize(index.__getitem__, otypes=[np.int64])(values) if values.ndim else index[str(values)]


def check_labels(
    y: Any, n: int, n_classes: int | None, name: str = "y", class_names=None
) -> np.ndarray:
    """Class labels: integer codes `0..n_classes-1`, one per input, as `int64` `(n,)`.

    The one rule for labels in mcbridge: the metrics, `evaluate`, the
    reports and plots, `TemperatureScaler`, the conformal sets and the
    command line all check labels here. An `(n, 1)` column counts as `(n,)`
    and whole-number floats (`2.0`, as R and `.npz` files often hold them)
    as their integers; booleans are refused (`y.astype(int)` says what is
    meant). Labels given by name are matched to `class_names` (`named_codes`).

    Args:
        y: The labels.
        n: Inputs: one label each.
        n_classes: Classes; None accepts any non-negative code (the classes
            are not known).
        name: The argument's name in messages.
        class_names: The result's class names, for labels given by name.

    Returns:
        The labels, `int64` of shape `(n,)`.

    Raises:
        TypeError: `y` is not numeric, is boolean, or holds fractional values.
        ValueError: wrong length or shape, NaN or infinite values, or labels
            outside `0..n_classes-1`.
    """
    arr = as_numeric_array(named_codes(y, class_names, name), name)
    if arr.dtype.kind == "b":
        raise TypeError(
            f"Invalid value received for argument `{name}`. Expected integer class "
            f"labels. Received: {name} with dtype=bool. For the classes 0 (False) "
            f"and 1 (True), pass {name}.astype(int)"
        )
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n:
        hint = ""
        if arr.ndim == 2 and arr.shape[0] == n and arr.shape[1] == n_classes:
            hint = f". These look one-hot encoded: pass {name}.argmax(axis=1)"
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected {n} labels "
            f"(shape ({n},)), one per input. Received: {name}.shape={arr.shape}{hint}"
        )
    bad = count_nonfinite(arr)
    if bad:
        raise ValueError(
            f"Invalid value received for argument `{name}`: it holds {bad} NaN or "
            "infinite labels. Leave out the inputs that have no label."
        )
    if arr.dtype.kind == "f" and np.any(arr != np.round(arr)):
        example = arr[arr != np.round(arr)][0]
        raise TypeError(
            f"Invalid value received for argument `{name}`. Expected integer class "
            f"labels (codes 0, 1, ..., classes - 1). Received: fractional values, "
            f"e.g. {float(example)}"
        )
    top = INT32_MAX if n_classes is None else n_classes - 1
    if arr.size and (arr.min() < 0 or arr.max() > top):
        lo, hi = int(arr.min()), int(arr.max())
        outside = int(np.count_nonzero((arr < 0) | (arr > top)))
        if n_classes is None:
            expected = "class labels counted from 0"
            hint = "Recode them as 0, 1, ..., classes - 1"
        else:
            expected = f"class labels in 0..{top}"
            hint = f"Recode them as 0..{top}"
            if lo >= 1 and hi == n_classes:
                hint = f"They look counted from 1: pass {name} - 1"
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected {expected}. "
            f"Received: {outside} label(s) outside, from {lo} to {hi}. {hint}"
        )
    return arr.astype(np.int64)


# --------------------------------------------------------------------------
# size


def available_memory() -> int | None:
    """Bytes of memory available to this process now (None if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _bytes_text(b: int) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b} bytes"


def check_result_size(
    n: int,
    n_classes: int,
    n_samples: int,
    *,
    itemsize: int = 4,
    available: int | None = None,
    shapes: list | None = None,
) -> int:
    """Refuses a result cube that cannot fit in memory, before it is allocated.

    Args:
        n: Inputs.
        n_classes: Classes of the model's output.
        n_samples: MC samples per input.
        itemsize: Bytes per value (4: float32).
        available: Bytes available; default: what the system reports now.
        shapes: The model's output shapes but the batch axis (named in the
            message when an output is dense or there are several).

    Returns:
        The bytes the result needs.

    Raises:
        MemoryError: the `(n, classes, samples)` result needs more memory than
            is available. The message gives the bytes and the ways out.
    """
    need = int(n) * int(n_classes) * int(n_samples) * int(itemsize)
    if available is None:
        available = available_memory()
    if need > INT64_MAX or (available is not None and need > available):
        have = "an unknown amount" if available is None else _bytes_text(available)
        if shapes and (len(shapes) > 1 or len(shapes[0]) > 1):
            what = " and ".join(f"({n}, {', '.join(map(str, s))}, {n_samples})" for s in shapes)
            what = f"The result of shape (n, *dims, classes, samples) = {what}"
        else:
            what = f"The result of shape (n, classes, samples) = ({n}, {n_classes}, {n_samples})"
        raise MemoryError(
            f"{what} needs {need:,} bytes ({_bytes_text(need)}) of float32, "
            f"but {have} is available; nothing was allocated. Ask for fewer "
            "samples (n_samples), predict fewer inputs at a time (slices of x), "
            "or stream blocks of rows to a file with mcbridge.ArrowWriter."
        )
    return need


# --------------------------------------------------------------------------
# files


def check_output_path(path: Any, name: str = "path", suffixes: tuple[str, ...] = ()) -> "os.PathLike":
    """The `pathlib.Path` to write, after checking that it can be written.

    Nothing is created: a missing directory is an error (a typo should not
    leave a stray directory behind), as is a directory in place of the file.

    Raises:
        TypeError: `path` is not a `str` or `os.PathLike`.
        ValueError: `path` does not end in one of `suffixes`.
        FileNotFoundError: its directory does not exist.
        IsADirectoryError: `path` is a directory.
    """
    from pathlib import Path

    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(invalid(name, "a file path (str or os.PathLike)", path))
    path = Path(path)
    if suffixes and path.suffix not in suffixes:
        raise ValueError(invalid(name, "a file name ending in " + " or ".join(suffixes), str(path)))
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(
            f"Cannot write {str(path)!r}: the directory {str(directory)!r} does not "
            "exist. Create it first."
        )
    if path.is_dir():
        raise IsADirectoryError(f"Cannot write {str(path)!r}: it is a directory.")
    return path


def temp_file_error(path: Any, err: OSError) -> OSError:
    """An error of the same kind as `err` that names the file mcbridge wanted to write."""
    from pathlib import Path

    directory = Path(path).parent
    reason = err.strerror or str(err)
    kind = type(err) if type(err) in (PermissionError, FileNotFoundError) else OSError
    return kind(
        err.errno,
        f"Cannot write {str(path)!r}: no file can be created in {str(directory)!r} "
        f"({reason}). Choose a writable directory",
    )


def _umask() -> int:
    """This process's umask (read from /proc where it can be, so it is never changed, even briefly)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def shareable(tmp: Any) -> None:
    """Gives a temporary file or folder the permissions a new one gets here.

    `tempfile`'s files and folders are private (`0600` / `0700`); what mcbridge
    finishes writing gets `0666` / `0777` less the umask, as `open()` and
    `os.mkdir()` would give it, so the rest of a team can read it.
    """
    os.chmod(tmp, (0o777 if os.path.isdir(tmp) else 0o666) & ~_umask())


def publish(tmp: Any, path: Any) -> None:
    """`os.replace(tmp, path)`, `tmp` made `shareable` first."""
    shareable(tmp)
    os.replace(tmp, path)
