"""Argument checks shared by the public functions (errors in Keras' phrasing)."""

from __future__ import annotations

import numpy as np


def check_model(model) -> None:
    """Raises `TypeError` unless `model` is a `keras.Model`."""
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(
            "Invalid value received for argument `model`. Expected a "
            f"keras.Model. Received: model of type {type(model).__name__}"
        )


def positive_int(name: str, value) -> int:
    """Returns `value` as an `int`; `ValueError` unless it is a positive integer."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or value <= 0
    ):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a positive "
            f"integer. Received: {name}={value!r}"
        )
    return int(value)
