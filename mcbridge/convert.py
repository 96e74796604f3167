"""Make an existing Keras model's dropout switchable, keeping its weights."""

from __future__ import annotations

from collections.abc import Callable

import keras

from mcbridge._checks import check_model
from mcbridge._engine.graph import is_graph_model as _is_graph_model
from mcbridge.layers import is_dropout_layer, is_switchable, switchable_class
from mcbridge.switch import iter_layers

__all__ = ["make_switchable", "clone_with_dropout"]


def clone_with_dropout(
    model: keras.Model, make_dropout: Callable[[keras.layers.Layer], keras.layers.Layer]
) -> keras.Model:
    """Rebuild `model`'s graph with each dropout layer replaced by `make_dropout(layer)`.

    Every other layer is the *same* object as in `model` (weights shared).
    Nested Sequential / functional models are rebuilt recursively.

    Raises:
        ValueError: `model` is subclassed (no graph to rebuild).
    """
    check_model(model)
    if not _is_graph_model(model):
        raise ValueError(
            f"Model {model.name!r} is a subclassed model "
            f"({type(model).__name__}); mcbridge can only rebuild Sequential "
            "and functional models. Use mcbridge.layers.MCDropout (or the other "
            "MC* layers) inside your model class instead of keras.layers.Dropout."
        )

    def replace(layer):
        return make_dropout(layer) if is_dropout_layer(layer) else layer

    return keras.models.clone_model(model, clone_function=replace, recursive=True)


def make_switchable(model: keras.Model) -> keras.Model:
    """Return a model whose dropout layers can be switched to MC mode at runtime.

    Keras `Dropout`, `SpatialDropout1D/2D/3D`, `GaussianDropout` and
    `AlphaDropout` layers become their mcbridge counterparts (switch off); all
    other layers are copies holding the same weights. A compiled model's copy
    is compiled with the same loss, metrics and optimizer settings (a fresh
    optimizer state). A model whose dropout layers are all switchable already
    is returned as it is.

    The weights are *copied*, not shared: training `model` afterwards does not
    change the returned model (nor the other way round). Convert once, then
    train and predict with the returned model (or convert again after
    training; `mcbridge.mc_predict` also takes the plain Keras model directly).

    Args:
        model: A Sequential or functional `keras.Model` (built by Python or by
            R's keras3).

    Returns:
        The switchable `keras.Model`: a new model with copies of `model`'s
        weights (or `model` itself, see above).

    Raises:
        ValueError: `model` has no dropout layer, or is a subclassed model.
        TypeError: `model` is not a Keras model.
    """
    check_model(model)
    dropouts = [layer for layer in iter_layers(model) if is_dropout_layer(layer)]
    if not dropouts:
        raise ValueError(
            f"Model {model.name!r} has no dropout layer, so there is nothing to "
            "make switchable. MC dropout needs a model trained with dropout "
            "(Dropout, SpatialDropout1D/2D/3D, GaussianDropout or AlphaDropout)."
        )
    if all(is_switchable(layer) for layer in dropouts):
        return model

    def to_switchable(layer):
        config = layer.get_config()
        config.pop("mc_enabled", None)
        return switchable_class(layer).from_config(config)

    rebuilt = clone_with_dropout(model, to_switchable)
    # The rebuilt graph shares layers with `model`; give the copy its own.
    switchable = keras.models.clone_model(
        rebuilt,
        clone_function=lambda layer: layer.__class__.from_config(layer.get_config()),
        recursive=True,
    )
    for old, new in zip(iter_layers(model), iter_layers(switchable)):
        if hasattr(old, "layers"):
            continue
        if is_switchable(new) and not is_switchable(old):
            # The same weights plus the switch (left off): Keras dropout has
            # none, a recurrent layer its kernels.
            weights = [w for w in new.weights if w is not new.mc_switch]
            for weight, value in zip(weights, old.get_weights(), strict=True):
                weight.assign(value)
        else:
            new.set_weights(old.get_weights())
    if model.compiled:
        switchable.compile_from_config(model.get_compile_config())
    return switchable
