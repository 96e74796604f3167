"""Model builders."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Sequence

import keras
import numpy as np

from mcbridge._checks import check_bool, check_choice, check_int, check_seed, invalid, positive_int, publish
from mcbridge.layers import MCDropout

__all__ = ["build_cnn", "build_mlp", "heteroscedastic_nll", "load_model"]


def build_cnn(
    input_shape: Sequence[int] = (28, 28, 1),
    n_classes: int = 10,
    filters: Sequence[int] = (32, 64),
    kernel_size: int = 3,
    dense_units: int = 128,
    dropout: Sequence[float] = (0.25, 0.25, 0.5),
    padding: str = "valid",
    seed: int | None = None,
) -> keras.Model:
    """Build and compile the seed CNN with runtime-switchable dropout.

    Layers: for each entry of `filters`, Conv2D(relu) - MCDropout - MaxPool(2);
    then Flatten - Dense(`dense_units`, relu) - MCDropout - Dense(`n_classes`,
    softmax). A dropout rate of 0 omits that dropout layer; `dense_units=0`
    omits the hidden dense layer (e.g. `filters=(32, 64), dense_units=0,
    dropout=(0, 0, 0.5)` is the Keras MNIST convnet example).

    Args:
        input_shape: `(height, width, channels)` of one image.
        n_classes: Number of output classes.
        filters: Filters of each convolution block.
        kernel_size: Square kernel size of the convolutions.
        dense_units: Units of the hidden dense layer (0 for none).
        dropout: `len(filters) + 1` rates in [0, 1): one after each
            convolution, then one before the output layer.
        seed: Optional seed for weight initialisation and dropout masks.

    Returns:
        A `keras.Sequential` compiled with Adam (learning rate 1e-3), sparse
        categorical cross-entropy and accuracy. MC dropout is off.

    Raises:
        TypeError: an argument has the wrong type (e.g. `n_classes="10"`).
        ValueError: an argument is out of range, or `input_shape` is too
            small for the convolution blocks (the message gives the smallest
            size that works and suggests `padding="same"`).
    """
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__"):
        raise TypeError(invalid("input_shape", "(height, width, channels)", input_shape))
    if len(input_shape) != 3 or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in input_shape
    ):
        raise ValueError(invalid(
            "input_shape", "(height, width, channels) of positive integers", tuple(input_shape)
        ))
    input_shape = tuple(int(d) for d in input_shape)
    positive_int("n_classes", n_classes)
    positive_int("kernel_size", kernel_size)
    if isinstance(filters, (str, bytes, int)) or not hasattr(filters, "__iter__"):
        raise TypeError(invalid("filters", "a sequence of positive integers", filters))
    filters = tuple(filters)
    for f in filters:
        positive_int("filters", f)
    check_int("dense_units", dense_units, minimum=0)
    check_choice("padding", padding, ("valid", "same"))
    seed = check_seed(seed)
    if isinstance(dropout, (str, bytes)) or not hasattr(dropout, "__iter__") or not all(
        isinstance(r, (int, float, np.integer, np.floating)) and not isinstance(r, bool)
        for r in dropout
    ):
        raise TypeError(invalid("dropout", f"{len(filters) + 1} rates in [0, 1)", dropout))
    dropout = tuple(float(r) for r in dropout)
    if len(dropout) != len(filters) + 1 or not all(0 <= r < 1 for r in dropout):
        raise ValueError(
            "Invalid value received for argument `dropout`. Expected "
            f"{len(filters) + 1} rates in [0, 1) (one per convolution block, "
            f"then one before the output). Received: dropout={dropout!r}"
        )
    _check_fits(input_shape, len(filters), kernel_size, padding)

    def init(offset):
        return keras.initializers.GlorotUniform(
            seed=None if seed is None else seed + offset
        )

    def drop(rate, offset):
        if rate == 0:
            return []
        return [MCDropout(rate, seed=None if seed is None else seed + 1000 + offset)]

    layers: list = [keras.Input(shape=input_shape)]
    for i, (f, rate) in enumerate(zip(filters, dropout)):
        layers.append(
            keras.layers.Conv2D(
                f, kernel_size, padding=padding, activation="relu", kernel_initializer=init(i)
            )
        )
        layers += drop(rate, i)
        layers.append(keras.layers.MaxPooling2D(2))
    layers.append(keras.layers.Flatten())
    if dense_units:
        layers.append(
            keras.layers.Dense(dense_units, activation="relu", kernel_initializer=init(100))
        )
    layers += drop(dropout[-1], 100)
    layers.append(
        keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=init(101))
    )
    model = keras.Sequential(layers, name="mc_cnn")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


@keras.saving.register_keras_serializable(package="mcbridge")
def heteroscedastic_nll(y_true, y_pred):
    """Gaussian negative log-likelihood of a heteroscedastic regression model.

    `y_pred` is `(batch, 2 * d)`: `d` means, then `d` log-variances (the
    layout `mc_predict(..., heteroscedastic=True)` reads). Per input, the mean
    over outputs of `0.5 * (log_var + (y - mean)**2 * exp(-log_var))`
    (the constant `0.5 * log(2 * pi)` left out).

    Args:
        y_true: Targets, `(batch, d)` (or `(batch,)` for `d = 1`).
        y_pred: Model outputs, `(batch, 2 * d)`.

    Returns:
        The loss per input, `(batch,)`.
    """
    ops = keras.ops
    d = ops.shape(y_pred)[-1] // 2
    mean, log_var = y_pred[..., :d], y_pred[..., d:]
    y_true = ops.reshape(ops.cast(y_true, mean.dtype), ops.shape(mean))
    return ops.mean(0.5 * (log_var + ops.square(y_true - mean) * ops.exp(-log_var)), axis=-1)


def build_mlp(
    input_dim: int,
    n_outputs: int = 2,
    hidden_units: Sequence[int] = (64, 64),
    dropout: Sequence[float] = (0.2, 0.2),
    task: str = "classification",
    heteroscedastic: bool = False,
    seed: int | None = None,
) -> keras.Model:
    """Build and compile an MLP for tabular data with runtime-switchable dropout.

    Layers: for each entry of `hidden_units`, Dense(relu) - MCDropout (a rate
    of 0 omits it); then the output layer: Dense(`n_outputs`, softmax) for
    classification, Dense(`n_outputs`) for regression, Dense(`2 * n_outputs`)
    (means, then log-variances) for heteroscedastic regression.

    Args:
        input_dim: Number of features (columns) of one input.
        n_outputs: Classes (classification) or targets (regression).
        hidden_units: Units of each hidden layer (may be empty).
        dropout: One rate in [0, 1) per hidden layer.
        task: `"classification"` or `"regression"`.
        heteroscedastic: With `task="regression"`: also predict each
            target's noise variance, trained with `heteroscedastic_nll`;
            predict with `mc_predict(..., heteroscedastic=True)`.
        seed: Optional seed for weight initialisation and dropout masks.

    Returns:
        A `keras.Sequential` compiled with Adam (learning rate 1e-3) and:
        sparse categorical cross-entropy and accuracy (classification);
        mean squared error and mean absolute error (regression);
        `heteroscedastic_nll` (heteroscedastic). MC dropout is off.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an argument is out of range, e.g. `n_outputs=1` for
            classification or `heteroscedastic=True` for classification.
    """
    input_dim = positive_int("input_dim", input_dim)
    n_outputs = positive_int("n_outputs", n_outputs)
    task = check_choice("task", task, ("classification", "regression"))
    heteroscedastic = check_bool("heteroscedastic", heteroscedastic)
    seed = check_seed(seed)
    if task == "classification" and n_outputs < 2:
        raise ValueError(invalid("n_outputs", "at least 2 classes for classification", n_outputs))
    if heteroscedastic and task != "regression":
        raise ValueError(invalid("heteroscedastic", "False unless task='regression'", heteroscedastic))
    if isinstance(hidden_units, (str, bytes, int)) or not hasattr(hidden_units, "__iter__"):
        raise TypeError(invalid("hidden_units", "a sequence of positive integers", hidden_units))
    hidden_units = tuple(positive_int("hidden_units", u) for u in hidden_units)
    if isinstance(dropout, (str, bytes)) or not hasattr(dropout, "__iter__") or not all(
        isinstance(r, (int, float, np.integer, np.floating)) and not isinstance(r, bool)
        for r in dropout
    ):
        raise TypeError(invalid("dropout", f"{len(hidden_units)} rates in [0, 1)", dropout))
    dropout = tuple(float(r) for r in dropout)
    if len(dropout) != len(hidden_units) or not all(0 <= r < 1 for r in dropout):
        raise ValueError(invalid(
            "dropout", f"{len(hidden_units)} rates in [0, 1) (one per hidden layer)", dropout
        ))

    def init(offset):
        return keras.initializers.GlorotUniform(seed=None if seed is None else seed + offset)

    layers: list = [keras.Input(shape=(input_dim,))]
    for i, (units, rate) in enumerate(zip(hidden_units, dropout)):
        layers.append(keras.layers.Dense(units, activation="relu", kernel_initializer=init(i)))
        if rate > 0:
            layers.append(MCDropout(rate, seed=None if seed is None else seed + 1000 + i))
    if task == "classification":
        layers.append(keras.layers.Dense(n_outputs, activation="softmax", kernel_initializer=init(100)))
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    elif heteroscedastic:
        layers.append(keras.layers.Dense(2 * n_outputs, kernel_initializer=init(100)))
        loss, metrics = heteroscedastic_nll, []
    else:
        layers.append(keras.layers.Dense(n_outputs, kernel_initializer=init(100)))
        loss, metrics = "mean_squared_error", ["mean_absolute_error"]
    model = keras.Sequential(layers, name="mc_mlp")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=loss, metrics=metrics)
    return model


def _feature_size(size: int, blocks: int, kernel: int, padding: str) -> int:
    """Spatial size after `blocks` of conv(kernel, padding) + MaxPool(2); 0 if it vanishes."""
    for _ in range(blocks):
        if padding == "valid":
            size -= kernel - 1
        if size < 2:  # the 2x2 pool needs a 2x2 window
            return 0
        size //= 2
    return size


def _smallest_size(blocks: int, kernel: int, padding: str) -> int:
    size = 1
    for _ in range(blocks):
        size = 2 * size + (kernel - 1 if padding == "valid" else 0)
    return size


def _check_fits(input_shape: tuple, blocks: int, kernel: int, padding: str) -> None:
    """ValueError, before Keras builds anything, when the blocks shrink the image away."""
    height, width = input_shape[:2]
    if min(_feature_size(height, blocks, kernel, padding), _feature_size(width, blocks, kernel, padding)) >= 1:
        return
    need = _smallest_size(blocks, kernel, padding)
    hint = f"Use images of at least {need}x{need}"
    if padding == "valid":
        hint += (
            f', or padding="same" (then {_smallest_size(blocks, kernel, "same")}x'
            f'{_smallest_size(blocks, kernel, "same")} is enough)'
        )
    raise ValueError(
        f"Invalid value received for argument `input_shape`. Expected images large "
        f"enough for {blocks} blocks of a {kernel}x{kernel} convolution "
        f'(padding="{padding}") and a 2x2 max-pool. Received: input_shape={input_shape}, '
        f"which shrinks to nothing. {hint}, or fewer `filters` blocks."
    )


def _folder_message(path: str) -> str:
    """What a folder given to `load_model` is, and what to pass instead."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return (
            f"{path!r} is a TensorFlow SavedModel folder, and Keras 3 loads `.keras` files (and "
            "legacy `.h5`) only. Load it with the TensorFlow/Keras 2 that wrote it and save it "
            "again with model.save('model.keras'), then load that file."
        )
    files = sorted(f for f in os.listdir(path) if f.endswith((".keras", ".h5")))
    if files:
        return f"{path!r} is a folder, not a model file; it holds {', '.join(files[:5])}: pass one of those."
    return f"{path!r} is a folder, not a model file. Pass the `.keras` file written by model.save()."


#: The attribute holding the class names a model was trained on from R (a factor's levels).
CLASS_NAMES_ATTR = "mcbridge_class_names"
#: The entry of a `.keras` file (a zip) that keeps them; Keras ignores entries it does not know.
_EXTRA_ENTRY = "mcbridge.json"


def save_model_with_class_names(model: keras.Model, path: str | os.PathLike) -> None:
    """`model.save(path)`, with the model's `mcbridge_class_names` (if any) kept in the `.keras` file.

    Written to a temporary file beside `path` and renamed when complete, so an
    error leaves an older file at `path` untouched.
    """
    path = os.fspath(path)
    names = getattr(model, CLASS_NAMES_ATTR, None)
    fd, tmp = tempfile.mkstemp(suffix=".keras", dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        model.save(tmp)
        if names is not None:
            with zipfile.ZipFile(tmp, "a") as z:
                z.writestr(_EXTRA_ENTRY, json.dumps({"class_names": [str(c) for c in names]}))
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _saved_class_names(path: str) -> tuple[str, ...] | None:
    """The class names kept in a `.keras` file by `save_model_with_class_names`, or None."""
    if not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as z:
        if _EXTRA_ENTRY not in z.namelist():
            return None
        try:
            names = json.loads(z.read(_EXTRA_ENTRY))["class_names"]
        except (ValueError, KeyError, TypeError):
            names = None
    if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
        warnings.warn(f"{path!r}: its {_EXTRA_ENTRY} holds no list of class names; they are not restored.",
                      stacklevel=3)
        return None
    return tuple(names)


def load_model(path: str | os.PathLike, *, safe_mode: bool = True, compile: bool = True) -> keras.Model:
    """Load a saved `.keras` model, with mcbridge's layers registered.

    Args:
        path: A `.keras` file written by `model.save()`.
        safe_mode: Refuse to deserialise Python code stored in the file
            (`Lambda` layers). Pass `False` only for files you trust: loading
            then runs code from the file.
        compile: Restore the training configuration too.

    Returns:
        The `keras.Model`. A model trained from R on a factor and saved with
        R's `mc_save_model()` has the factor's levels back as
        `model.mcbridge_class_names` (a tuple of str).

    Raises:
        FileNotFoundError: `path` does not exist.
        IsADirectoryError: `path` is a folder (a TensorFlow SavedModel, or a
            folder of model files); the message says what to pass instead.
        ValueError: the file is not a loadable Keras model, or it holds
            code (a `Lambda` layer) and `safe_mode` is True; that code is not run.
        TypeError: `safe_mode` or `compile` is not a bool.
    """
    check_bool("safe_mode", safe_mode)
    check_bool("compile", compile)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(invalid("path", "a file path (str or os.PathLike)", path))
    if os.path.isdir(path):
        raise IsADirectoryError(_folder_message(os.fspath(path)))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Model file {os.fspath(path)!r} does not exist.")
    try:
        model = keras.models.load_model(path, safe_mode=safe_mode, compile=compile)
    except ValueError as err:
        text = str(err)
        if safe_mode and ("safe_mode" in text or "unsafe" in text):
            raise ValueError(
                f"Model file {os.fspath(path)!r} holds Python code (e.g. a Lambda "
                "layer) and was refused: loading it would run that code. If you "
                "trust the file, load it with safe_mode=False (CLI: --unsafe-load)."
            ) from None
        if "not supported" in text or "File not found" in text or "zip" in text:
            raise ValueError(
                f"{os.fspath(path)!r} is not a Keras model file: Keras 3 loads "
                "`.keras` files written by model.save() (and legacy `.h5`)."
            ) from None
        raise
    names = _saved_class_names(os.fspath(path))
    if names is not None:
        setattr(model, CLASS_NAMES_ATTR, names)
    return model
