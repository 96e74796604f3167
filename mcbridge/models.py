"""Model builders."""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras

from mcbridge._checks import positive_int
from mcbridge.layers import MCDropout

__all__ = ["build_cnn", "load_model"]


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
        ValueError: an argument is out of range.
    """
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 3 or min(input_shape) <= 0:
        raise ValueError(
            "Invalid value received for argument `input_shape`. Expected "
            f"(height, width, channels) of positive integers. Received: "
            f"input_shape={input_shape!r}"
        )
    positive_int("n_classes", n_classes)
    positive_int("kernel_size", kernel_size)
    filters = tuple(filters)
    for f in filters:
        positive_int("filters", f)
    if isinstance(dense_units, bool) or not isinstance(dense_units, int) or dense_units < 0:
        raise ValueError(
            "Invalid value received for argument `dense_units`. Expected a "
            f"non-negative integer. Received: dense_units={dense_units!r}"
        )
    if padding not in ("valid", "same"):
        raise ValueError(
            "Invalid value received for argument `padding`. Expected \"valid\" "
            f"or \"same\". Received: padding={padding!r}"
        )
    dropout = tuple(float(r) for r in dropout)
    if len(dropout) != len(filters) + 1 or not all(0 <= r < 1 for r in dropout):
        raise ValueError(
            "Invalid value received for argument `dropout`. Expected "
            f"{len(filters) + 1} rates in [0, 1) (one per convolution block, "
            f"then one before the output). Received: dropout={dropout!r}"
        )

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


def load_model(path: str | os.PathLike, *, safe_mode: bool = True, compile: bool = True) -> keras.Model:
    """Load a saved `.keras` model, with mcbridge's layers registered.

    Args:
        path: A `.keras` file written by `model.save()`.
        safe_mode: Refuse to deserialise Python code stored in the file
            (`Lambda` layers). Pass `False` only for files you trust: loading
            then runs code from the file.
        compile: Restore the training configuration too.

    Returns:
        The `keras.Model`.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the file is not a loadable `.keras` model, or it holds
            code and `safe_mode` is True.
    """
    if not isinstance(safe_mode, bool):
        raise TypeError(
            "Invalid value received for argument `safe_mode`. Expected True or "
            f"False. Received: safe_mode={safe_mode!r}"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Model file {os.fspath(path)!r} does not exist.")
    return keras.models.load_model(path, safe_mode=safe_mode, compile=compile)
