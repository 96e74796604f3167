"""The model as a graph: its chain of layers, the regions each layer reads, its rebuilt copy.

Which leading region of each activation a chain's output depends on: a
convolution or pooling with valid padding ignores the trailing rows and
columns of its input that its last window does not reach. In the seed CNN,
`28 -> Conv3 -> 26 -> Pool2 -> 13 -> Conv3 -> 11 -> Pool2 -> 5`: the second
pool reads 10 of its 11 rows, so the second convolution needs 12 of its 13
input rows, and the first pool 24 of its 26. The MC predictor crops the
deterministic prefix's output to that region once per input, so no replica
computes (or draws dropout masks for) values nothing reads.

The rebuilt graph (`build_view`) holds the *same* layer objects as the
user's model (weights shared, nothing written onto them), except that each
sampled layer is replaced by an always-sampling copy made by
`registry.sampling_copy` with what the plan decided for it.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from mcbridge._engine import registry
from mcbridge._engine.masks import spatial_dims
from mcbridge.switch import iter_layers

# Layers whose windows slide over the spatial axes (their attributes:
# kernel_size or pool_size, strides, padding, data_format, dilation_rate).
_CONVOLUTIONS = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
)
_POOLINGS = (
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.MaxPooling3D,
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
    keras.layers.AveragePooling3D,
)
# Layers that act on each spatial position on its own (inference mode).
_POINTWISE = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
)


def _window_needs(layer, needed_out: tuple) -> tuple | None:
    """Leading input extent that `needed_out` of a valid, channels-last window layer reads."""
    if type(layer) in _CONVOLUTIONS:
        kernel, dilation = layer.kernel_size, layer.dilation_rate
    elif type(layer) in _POOLINGS:
        kernel, dilation = layer.pool_size, (1,) * len(layer.pool_size)
    else:
        return None
    if layer.padding != "valid" or layer.data_format != "channels_last":
        return None
    return tuple(
        (o - 1) * s + d * (k - 1) + 1
        for o, s, d, k in zip(needed_out, layer.strides, dilation, kernel)
    )


def needed_input_extents(layers, passes=lambda layer: False) -> list[tuple | None]:
    """For each layer of a built Sequential model, the input region its output depends on.

    Args:
        layers: The model's layers, in order, with static shapes (those of
            each layer's first call are used).
        passes: Predicate for further layers that act on each spatial
            position independently and keep the input shape (e.g. dropout).

    Returns:
        One entry per layer: a tuple of leading spatial extents of the
        layer's channels-last input when the model's output depends on
        fewer than all of them, else None (the whole input is needed, or the
        layer is not understood).
    """
    needs: list[tuple | None] = [None] * len(layers)
    needed = None  # of the current layer's output; None: all of it
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        full_in = _spatial(layer.input)
        full_out = _spatial(layer.output)
        if full_in is None:
            needed = None
        elif isinstance(layer, _POINTWISE) or passes(layer):
            pass  # same region in as out
        elif (
            isinstance(layer, keras.layers.BatchNormalization)
            and layer.axis in (-1, len(layer.input.shape) - 1)
        ):
            pass
        elif full_out is not None and len(full_out) == len(full_in):
            needed = _window_needs(layer, needed or full_out)
        else:
            needed = None
        if needed is not None and (len(needed) != len(full_in) or needed == full_in):
            needed = None
        needs[i] = needed
    return needs


def _spatial(tensor) -> tuple | None:
    """`spatial_dims` of a layer's input or output; None for several tensors (a recurrent layer's input and mask)."""
    shape = getattr(tensor, "shape", None)
    return None if shape is None else spatial_dims(shape)


def cropping_layer(full: tuple, needed: tuple) -> keras.layers.Layer:
    """A Keras cropping layer that keeps the leading `needed` region of a `full` input."""
    trailing = [f - n for f, n in zip(full, needed)]
    if len(full) == 1:
        return keras.layers.Cropping1D((0, trailing[0]))
    cls = keras.layers.Cropping2D if len(full) == 2 else keras.layers.Cropping3D
    return cls(tuple((0, t) for t in trailing))


# --------------------------------------------------------------------------
# chains and the rebuilt graph


def is_graph_model(model) -> bool:
    """Sequential and functional models: the ones Keras can rebuild by graph."""
    return isinstance(model, keras.Sequential) or type(model).__name__ == "Functional"


def as_chain(model: keras.Model) -> list | None:
    """The layers of `model` in order if its graph is one chain; else None.

    A Sequential model is a chain. A functional model is one if, from the
    output back to the input, every layer was called on exactly one tensor,
    with no keyword argument but `training=False` (what a Sequential passes),
    and every layer of the model is on that path (no branches, no skip
    connections): it is then sampled as the Sequential model of its layers.
    """
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return None
    try:  # Keras' graph bookkeeping; anything unexpected means "not a chain"
        chain, tensor = [], model.outputs[0]
        while tensor is not model.inputs[0]:
            layer, node_index, _ = tensor._keras_history
            node = layer._inbound_nodes[node_index]
            kwargs = node.arguments.kwargs
            if len(node.input_tensors) != 1 or len(node.outputs) != 1 or any(
                key != "training" or not (value is None or value is False) for key, value in kwargs.items()
            ):
                return None
            chain.append(layer)
            tensor = node.input_tensors[0]
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    if len(chain) != sum(not isinstance(layer, keras.layers.InputLayer) for layer in model.layers):
        return None
    return chain[::-1]


def contains_sampled(layer) -> bool:
    """True if `layer` is, or (a nested model) contains, a sampled layer."""
    return any(registry.is_sampled(sub) for sub in [layer, *iter_layers(layer)])


def crops_pointwise(layer) -> bool:
    """True for a bit-mask layer whose mask does not depend on the input's spatial extent."""
    if not registry.is_bit_mask(layer) or getattr(layer, "data_format", None) == "channels_first":
        return False
    return layer.noise_shape is None or all(d in (None, 1) for d in layer.noise_shape[1:-1])


def pools_in_windows(drop, pool, live: tuple | None) -> bool:
    """Whether the sampled `drop` and the 2x2 max-pool `pool` after it can run as one step.

    Only a plain bit-mask `Dropout` (one mask bit per element) on an NHWC
    input of even (live) height and width, followed by `MaxPooling2D` with
    pool and strides 2 and valid padding: its masks are then drawn window
    by window, which lets the replicated path pool with a cheap reduction.
    Same keep probability and values, per element.
    """
    entry = registry.entry_for(drop)
    if not (
        registry.is_bit_mask(drop)
        and entry.cls is keras.layers.Dropout
        and drop.noise_shape is None
        and type(pool) is keras.layers.MaxPooling2D
        and tuple(pool.pool_size) == (2, 2)
        and tuple(pool.strides) == (2, 2)
        and pool.padding == "valid"
        and pool.data_format == "channels_last"
    ):
        return False
    dims = live or spatial_dims(drop.input.shape)
    return len(drop.input.shape) == 4 and dims is not None and dims[0] % 2 == 0 and dims[1] % 2 == 0


def makes_mask(layer) -> bool:
    """True for a layer that makes a Keras mask (`Masking`, `Embedding(mask_zero=True)`)."""
    return isinstance(layer, keras.layers.Masking) or (
        isinstance(layer, keras.layers.Embedding) and bool(getattr(layer, "mask_zero", False))
    )


def rebuild(
    model: keras.Model,
    copy: Callable[[keras.layers.Layer], keras.layers.Layer],
    others: Callable[[keras.layers.Layer], keras.layers.Layer] | None = None,
    shapes: list[tuple] | None = None,
) -> keras.Model:
    """`model`'s graph with every sampled layer replaced by `copy(layer)`, every other by `others(layer)` (None: kept).

    A nested Sequential or functional model that holds a sampled layer is
    inlined: its layers join the rebuilt graph, replaced the same way (so
    the graph can be cut inside it). The result is never compiled: predicting
    needs no loss, metric or optimizer (a custom loss that Keras cannot
    deserialise would otherwise fail here). Its inputs have the model's
    input names and shapes, or `shapes` (each input's but the batch axis).
    """
    names = [t._keras_history[0].name for t in model.inputs]
    batch_shapes = [t.shape for t in model.inputs] if shapes is None else [(None, *s) for s in shapes]
    inputs = [
        keras.Input(batch_shape=shape, dtype=t.dtype, name=name)
        for t, shape, name in zip(model.inputs, batch_shapes, names)
    ]
    inputs = inputs[0] if len(inputs) == 1 else inputs
    return keras.Model(inputs, _run_rebuilt(model, inputs, copy, others or (lambda layer: layer)), name=model.name)


def on_input_shapes(model: keras.Model, shapes: list[tuple]) -> keras.Model:
    """`model`'s graph, the same layers, on inputs of `shapes` (each but the batch axis; for unknown sizes).

    A model built on `keras.Input((None, None, 3))` has outputs of unknown
    size; this view of it (`rebuild` with every layer kept) has the sizes of
    the inputs it is given. Nothing is copied: training the model trains the view.
    """
    return rebuild(model, lambda layer: layer, shapes=shapes)


def _run_rebuilt(model: keras.Model, inputs, copy, others):
    """`model`'s graph on the symbolic `inputs`, its layers replaced as `rebuild` says."""

    def replace(layer):
        if isinstance(layer, keras.Model) and is_graph_model(layer) and contains_sampled(layer):
            return lambda x, *args, **kwargs: _run_rebuilt(layer, x, copy, others)
        return copy(layer) if registry.is_sampled(layer) else others(layer)

    if isinstance(model, keras.Sequential):
        out = inputs
        for layer in model.layers:
            out = replace(layer)(out)
        return out
    outputs = model._run_through_graph(keras.tree.flatten(inputs), operation_fn=replace)
    return outputs[0] if isinstance(outputs, (list, tuple)) and len(outputs) == 1 else outputs


def chain_model(input_spec, layers) -> keras.Sequential:
    """A Sequential model of `layers` on an input of `input_spec = (shape, dtype)` (batch axis first)."""
    shape, dtype = input_spec
    return keras.Sequential([keras.Input(tuple(shape[1:]), dtype=dtype), *layers])
