"""Which leading region of each activation a Sequential model's output depends on.

A convolution or pooling with valid padding ignores the trailing rows and
columns of its input that its last window does not reach. In the seed CNN,
`28 -> Conv3 -> 26 -> Pool2 -> 13 -> Conv3 -> 11 -> Pool2 -> 5`: the second
pool reads 10 of its 11 rows, so the second convolution needs 12 of its 13
input rows, and the first pool 24 of its 26. The MC predictor crops the
deterministic prefix's output to that region once per input, so no replica
computes (or draws dropout masks for) values nothing reads.
"""

from __future__ import annotations

import keras

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


def spatial_dims(shape) -> tuple | None:
    """Spatial dims of a static channels-last shape `(batch, *spatial, channels)`, or None."""
    dims = tuple(shape[1:-1])
    return dims if dims and all(isinstance(d, int) for d in dims) else None


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
        full_in = spatial_dims(layer.input.shape)
        full_out = spatial_dims(layer.output.shape)
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


def cropping_layer(full: tuple, needed: tuple) -> keras.layers.Layer:
    """A Keras cropping layer that keeps the leading `needed` region of a `full` input."""
    trailing = [f - n for f, n in zip(full, needed)]
    if len(full) == 1:
        return keras.layers.Cropping1D((0, trailing[0]))
    cls = keras.layers.Cropping2D if len(full) == 2 else keras.layers.Cropping3D
    return cls(tuple((0, t) for t in trailing))
