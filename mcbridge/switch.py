"""Turn MC dropout on and off at runtime for a whole model."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras

from mcbridge._checks import check_bool, check_model
from mcbridge.layers import is_dropout_layer, is_switchable

__all__ = ["set_mc_dropout", "mc_dropout_enabled", "mc_dropout", "iter_layers"]


def iter_layers(model) -> Iterator[keras.layers.Layer]:
    """Yield every layer of `model`, descending into nested models, once each."""
    seen: set[int] = set()
    stack = list(reversed(getattr(model, "layers", [])))
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        stack.extend(reversed(getattr(layer, "layers", [])))


def _switchable_layers(model) -> list:
    check_model(model)
    layers = [layer for layer in iter_layers(model) if is_switchable(layer)]
    if layers:
        return layers
    plain = [layer.name for layer in iter_layers(model) if is_dropout_layer(layer)]
    if plain:
        raise ValueError(
            f"Model {model.name!r} has Keras dropout layers ({', '.join(plain)}) "
            "that cannot be switched at runtime. Convert it first: "
            "`model = mcbridge.make_switchable(model)`. (mcbridge.mc_predict "
            "works on it as it is.)"
        )
    raise ValueError(
        f"Model {model.name!r} has no dropout layer, so MC dropout has nothing "
        "to sample. Add dropout (e.g. mcbridge.layers.MCDropout) and retrain."
    )


def set_mc_dropout(model: keras.Model, enabled: bool) -> keras.Model:
    """Switch MC dropout on or off in every switchable layer of `model`.

    Takes effect at once in `model(x)` and in `model.predict(x)`, even after
    `predict()` has been compiled. Training calls drop as usual either way.

    Args:
        model: A model with mcbridge dropout layers (see `make_switchable`).
        enabled: `True` to sample dropout masks in inference.

    Returns:
        `model`, so the call can be chained.

    Raises:
        ValueError: the model has no switchable dropout layer.
        TypeError: `model` is not a Keras model or `enabled` not a bool.
    """
    enabled = check_bool("enabled", enabled)
    for layer in _switchable_layers(model):
        layer.mc_enabled = enabled
    return model


def mc_dropout_enabled(model: keras.Model) -> bool:
    """Whether every switchable dropout layer of `model` samples in inference.

    Raises:
        ValueError: the model has no switchable dropout layer.
    """
    return all(layer.mc_enabled for layer in _switchable_layers(model))


@contextlib.contextmanager
def mc_dropout(model: keras.Model, enabled: bool = True) -> Iterator[keras.Model]:
    """Context manager: MC dropout on (or off) inside the block, restored after.

    Example:
        >>> with mcbridge.mc_dropout(model):
        ...     draws = [model.predict(x, verbose=0) for _ in range(30)]
    """
    enabled = check_bool("enabled", enabled)
    layers = _switchable_layers(model)
    before = [layer.mc_enabled for layer in layers]
    set_mc_dropout(model, enabled)
    try:
        yield model
    finally:
        for layer, state in zip(layers, before):
            layer.mc_enabled = state
