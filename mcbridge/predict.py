"""The batched Monte Carlo dropout predictor.

`mc_predict` never calls `model.predict()` in a loop. It rebuilds the model's
graph once (cached per model) around the *same* layers and weights, with every
dropout layer replaced by an always-sampling copy, and splits it at the first
dropout layer:

* the deterministic prefix runs once per input, and its output is cropped
  to the region the model's output depends on (valid convolutions and
  pools ignore trailing rows and columns; see `mcbridge._extent`);
* its output is replicated along the batch axis, one replica per MC sample,
  and the stochastic suffix runs on all replicas in one compiled call, so
  each replica draws its own dropout masks.

On the TensorFlow backend the sampling copies of `Dropout` and
`SpatialDropout1D/2D/3D` draw their masks from packed random bits (see
`_bit_mask`): the same keep probability and kept values as Keras' own
dropout, at a fraction of its cost, which on CPU otherwise exceeds that of
the convolutions. The first dropout layer of a Sequential suffix is applied
to the broadcast prefix output, so the replicas are never copied; when a
2x2 max-pool follows it, the two run as one step (`call_replicated_pooled`).
A functional model whose graph is one chain of layers is handled as the
Sequential model of those layers (`_as_sequential`).

Calls have a fixed shape (`k` inputs x `m` samples, the last chunk padded), so
the compiled functions are traced once; `k` and `m` are sized so that the
activations of one call stay within a memory budget. Every other layer runs in
inference mode (BatchNormalization uses its moving statistics). The user's
model, its weights, BatchNormalization statistics, switch state and random
state are left untouched.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable

import keras
import numpy as np

from mcbridge._checks import check_model, positive_int
from mcbridge._extent import cropping_layer, needed_input_extents, spatial_dims
from mcbridge.convert import clone_with_dropout, _is_graph_model
from mcbridge.ensemble import ensemble_dispatch
from mcbridge.result import MCResult
from mcbridge.layers import is_dropout_layer, keras_dropout_class, switchable_class
from mcbridge.switch import iter_layers

__all__ = ["MCResult", "mc_predict", "DEFAULT_MEMORY_BUDGET"]

#: Bytes of activations one compiled call may hold (256 MiB).
DEFAULT_MEMORY_BUDGET = 256 * 2**20


# --------------------------------------------------------------------------
# argument checks


def _check_seed(seed) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            "Invalid value received for argument `seed`. Expected None or a "
            f"non-negative integer. Received: seed={seed!r}"
        )
    return int(seed)


def _input_spec(model) -> tuple[tuple, str]:
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"Model {model.name!r} has no known input shape. Build it first, "
            "e.g. by calling it once on a batch: model(x[:1])."
        )
    if len(inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"Model {model.name!r} has {len(inputs)} inputs and "
            f"{len(model.outputs)} outputs; mc_predict needs a single-input "
            "classifier with one output of shape (batch, classes)."
        )
    return tuple(inputs[0].shape), inputs[0].dtype


def _check_x(x, expected: tuple, dtype: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception as err:  # ragged lists and the like
        raise TypeError(
            "Invalid value received for argument `x`. Expected a numeric array. "
            f"Received: x of type {type(x).__name__} ({err})"
        ) from None
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(
            "Invalid value received for argument `x`. Expected a numeric array. "
            f"Received: x with dtype={arr.dtype}"
        )
    want = "(n, " + ", ".join("?" if d is None else str(d) for d in expected[1:]) + ")"
    fits = arr.ndim == len(expected) and all(
        d is None or d == a for d, a in zip(expected[1:], arr.shape[1:])
    )
    if not fits:
        hint = ""
        if arr.ndim == len(expected) - 1 and expected[-1] == 1:
            hint = " Add the channel axis with x[..., None]."
        raise ValueError(
            "Invalid value received for argument `x`. Expected an array of "
            f"shape {want} for this model. Received: x.shape={arr.shape}.{hint}"
        )
    if arr.shape[0] == 0:
        raise ValueError(
            "Invalid value received for argument `x`. Expected at least one "
            f"input. Received: x.shape={arr.shape}"
        )
    arr = arr.astype(dtype, copy=False)
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"Invalid value received for argument `x`: it holds {bad} NaN or "
            "infinite values. Remove or impute them before predicting."
        )
    return arr


# --------------------------------------------------------------------------
# the sampler: a rebuilt graph around the model's own layers


# Dropout masks from random bits (TensorFlow backend).
#
# Keras' TensorFlow dropout draws one float32 uniform per element (32 random
# bits, then a compare, a cast and two multiplies): on CPU that costs more
# than the convolutions of a small CNN. The sampling copies below draw the
# same Bernoulli masks from far fewer random bits. TensorFlow keeps an element
# iff `u >= rate` with `u = k / 2**23`, `k` uniform on 23 bits, i.e. iff
# `k >= J` with `J = ceil(rate * 2**23)`. Writing `J = j * 2**t` with `j` odd,
# that is `X >= j` for the top `b = 23 - t` bits `X` of `k`. So `b` uniform
# bit-planes (32 elements per uint32 word each) and a bit-sliced comparison
# with the constant `j` give each element's keep bit with exactly Keras' keep
# probability: 2 bits per element for rate 0.25, 1 for rate 0.5, at most 23.
# One gather of a 256 x 8 table turns each byte of keep bits into 8
# multipliers in {0, 1 / (1 - rate)}, and one multiply applies them, so kept
# values are `x * scale`, bit for bit what Keras computes.

_TF_RATE_BITS = 23


def _bernoulli_plan(rate: float) -> tuple[int, int]:
    """`(j, b)`: keep an element iff its `b` random bits, as an integer, are `>= j`."""
    big = np.float64(np.float32(rate)) * 2.0**_TF_RATE_BITS  # exact
    j, b = int(np.ceil(big)), _TF_RATE_BITS
    while b > 0 and j % 2 == 0:
        j, b = j // 2, b - 1
    return j, b


_BYTE_BITS = np.unpackbits(
    np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little"
).astype(np.float64)  # row v: the 8 bits of byte v, least significant first


def _bit_mask(noise_shape, rate: float, seed_generator, dtype):
    """Dropout multipliers in {0, 1 / (1 - rate)} of shape `noise_shape`, or None (rate 0)."""
    import tensorflow as tf

    if rate <= 0:
        return None
    j, b = _bernoulli_plan(rate)
    if b == 0:  # keeps nothing (rate 1)
        return tf.zeros(noise_shape, dtype=dtype)
    n = tf.reduce_prod(noise_shape)
    words = (n + 31) // 32
    seed = tf.cast(tf.math.floormod(seed_generator.next(), 2**31 - 2), tf.int32)
    planes = tf.random.stateless_uniform(
        tf.stack([b, words]), seed, minval=None, maxval=None, dtype=tf.uint32
    )
    keep = None  # bit-sliced `X >= j`, from the least significant bit up
    for i in range(b):
        plane = planes[i]
        if (j >> i) & 1:
            keep = plane if keep is None else tf.bitwise.bitwise_and(plane, keep)
        elif keep is not None:
            keep = tf.bitwise.bitwise_or(plane, keep)
        # else: bit of j is 0 with nothing below it: X_i >= 0 always holds.
    # Rows of {0, 1} times the scale Keras uses, rounded to the input dtype.
    scale = tf.constant(1.0 / (1.0 - float(rate)), dtype=dtype)
    table = tf.constant(_BYTE_BITS, dtype=dtype) * scale
    byte_values = tf.cast(tf.bitcast(keep, tf.uint8), tf.int32)
    mask = tf.reshape(tf.gather(table, byte_values), [-1])[:n]
    return tf.reshape(mask, noise_shape)


class _BitMaskSampling:
    """Mixin for a Keras `Dropout` / `SpatialDropout*` class: always drops, cheap masks."""

    def _noise_shape(self, shape, rank: int):
        import tensorflow as tf

        if isinstance(self, keras.layers.SpatialDropout1D):
            return tf.stack([shape[0], 1, shape[2]])
        if isinstance(self, (keras.layers.SpatialDropout2D, keras.layers.SpatialDropout3D)):
            ones = [1] * (rank - 2)
            if self.data_format == "channels_first":
                return tf.stack([shape[0], shape[1], *ones])
            return tf.stack([shape[0], *ones, shape[rank - 1]])
        if self.noise_shape is None:
            return shape
        return tf.stack([shape[i] if d is None else d for i, d in enumerate(self.noise_shape)])

    #: Set by `_Sampler` on a plain `Dropout` followed by a 2x2 max-pool:
    #: its mask bits are then laid out window by window (see `_mark_pool_windows`).
    pool_windows = False
    #: Set by `_Sampler`: the leading spatial extents of the input that the
    #: model's output depends on (`mcbridge._extent`), or None for all of it.
    live = None

    def call(self, inputs, training=False):
        import tensorflow as tf

        full = spatial_dims(inputs.shape)
        if self.live is not None and full != self.live:
            # The full-replication reference sees the whole input: mask only
            # the live region, as the fast path (which crops the rest off
            # before replicating) does, so both draw the same masks.
            live = inputs[(slice(None), *(slice(0, e) for e in self.live))]
            pads = [[0, 0], *([0, f - e] for f, e in zip(full, self.live)), [0, 0]]
            return tf.pad(self._masked(live), pads)
        return self._masked(inputs)

    def _masked(self, inputs):
        import tensorflow as tf

        if self.pool_windows:
            return self._call_pool_windows(inputs)
        noise = self._noise_shape(tf.shape(inputs), len(inputs.shape))
        mask = _bit_mask(noise, self.rate, self.seed_generator, inputs.dtype)
        return inputs if mask is None else inputs * mask

    def _call_pool_windows(self, inputs):
        """`call` with the mask bits in window-major order: (row, y // 2, x // 2, y % 2, x % 2, c)."""
        import tensorflow as tf

        rows = tf.shape(inputs)[0]
        _, h, w, c = inputs.shape
        mask = _bit_mask(tf.stack([rows, h // 2, w // 2, 2, 2, c]), self.rate, self.seed_generator, inputs.dtype)
        if mask is None:
            return inputs
        mask = tf.reshape(tf.transpose(mask, [0, 1, 3, 2, 4, 5]), tf.shape(inputs))
        return inputs * mask

    def call_replicated_pooled(self, inputs, m: int):
        """`MaxPooling2D(2)(call(tile(inputs, m)))` for a `pool_windows` layer.

        The same masks as `call` (window-major bits), so the same values: the
        inputs are rearranged once per input into windows `(k, windows, 4, c)`,
        and each replica's masked windows are reduced with one `reduce_max`
        (cheaper on CPU than a multiply with broadcasting and a `MaxPool`).
        """
        import tensorflow as tf

        k = tf.shape(inputs)[0]
        _, h, w, c = inputs.shape
        windows = tf.reshape(inputs, [k, h // 2, 2, w // 2, 2, c])
        windows = tf.reshape(tf.transpose(windows, [0, 1, 3, 2, 4, 5]), [k, (h // 2) * (w // 2), 4, c])
        mask = _bit_mask(tf.stack([m * k, h // 2, w // 2, 2, 2, c]), self.rate, self.seed_generator, inputs.dtype)
        if mask is None:
            pooled = tf.tile(tf.reduce_max(windows, 2)[None], [m, 1, 1, 1])
        else:
            # One multiply per replica: same shapes, no broadcasting.
            mask = tf.reshape(mask, [m, k, (h // 2) * (w // 2), 4, c])
            pooled = tf.stack([tf.reduce_max(windows * part, 2) for part in tf.unstack(mask, m)])
        return tf.reshape(pooled, [m * k, h // 2, w // 2, c])

    def call_replicated(self, inputs, m: int):
        """`call(tile(inputs, m))` without materialising the tiled copy.

        Row `r * k + i` of the result is replica `r` of input `i`, with the
        same masks `call` would draw for the tiled batch.
        """
        import tensorflow as tf

        shape = tf.shape(inputs)
        rank = len(inputs.shape)
        k = shape[0]
        tiled = tf.concat([[m * k], shape[1:]], axis=0)
        mask = _bit_mask(self._noise_shape(tiled, rank), self.rate, self.seed_generator, inputs.dtype)
        if mask is None:
            return tf.tile(inputs, [m] + [1] * (rank - 1))
        mask = tf.reshape(mask, tf.concat([[m, k], tf.shape(mask)[1:]], axis=0))
        return tf.reshape(inputs[None] * mask, tiled)


_BIT_MASK_CLASSES: dict[type, type] = {}


def _bit_mask_class(base: type) -> type:
    if base not in _BIT_MASK_CLASSES:
        _BIT_MASK_CLASSES[base] = type(f"_Sampling{base.__name__}", (_BitMaskSampling, base), {})
    return _BIT_MASK_CLASSES[base]


# The Keras dropout classes whose sampling copies draw bit masks.
_BIT_MASK_BASES = (
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D,
)


def _sampling_copy(layer) -> keras.layers.Layer:
    """An always-sampling copy of a dropout layer (fresh random state)."""
    config = layer.get_config()
    noise_shape = config.get("noise_shape")
    if noise_shape is not None and noise_shape[0] == 1:
        # A mask shared across the batch would be shared across the MC
        # replicas of an input too: draw one mask per row instead (the same
        # distribution for each input).
        config["noise_shape"] = (None, *noise_shape[1:])
    base = keras_dropout_class(layer)
    if base in _BIT_MASK_BASES and keras.backend.backend() == "tensorflow":
        config.pop("mc_enabled", None)
        return _bit_mask_class(base).from_config(config)
    config["mc_enabled"] = True
    return switchable_class(layer).from_config(config)


def _compile(fn):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=False, reduce_retracing=True)
    return fn


def _activation_bytes(model) -> int:
    """Bytes of all layer outputs of `model` for one row (an upper bound)."""
    total = 0
    for layer in iter_layers(model):
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):
            continue
        total += 4 * int(np.prod([d for d in shape[1:] if d is not None], dtype=np.int64))
    return max(total, 4)


class _Sampler:
    """Compiled prefix / suffix functions for one model (cached per model)."""

    def __init__(self, model: keras.Model, split: bool = True):
        self.signature = tuple(id(layer) for layer in iter_layers(model))
        dropouts = [layer for layer in iter_layers(model) if is_dropout_layer(layer)]
        if not dropouts:
            raise ValueError(
                f"Model {model.name!r} has no dropout layer, so MC dropout has "
                "nothing to sample: every sample would be the same prediction. "
                "Use a model trained with dropout (e.g. mcbridge.build_cnn())."
            )
        self.input_shape, self.input_dtype = _input_spec(model)
        if not _is_graph_model(model):
            raise ValueError(
                f"Model {model.name!r} is a subclassed model "
                f"({type(model).__name__}); mc_predict needs a Sequential or "
                "functional model, whose graph it can rebuild. For a subclassed "
                "model built with mcbridge.layers.MCDropout, switch MC dropout on "
                "with mcbridge.mc_dropout(model) and call the model yourself."
            )
        view = clone_with_dropout(model, _sampling_copy)
        view = _as_sequential(view) or view  # a functional chain gets the same fast paths
        # The same marks in both modes, so the same masks.
        _mark_live_regions(view)
        _mark_pool_windows(view)
        if split:
            self.prefix, self.suffix = _split_at_first_dropout(view)
        else:  # the reference: every layer runs on every replica
            self.prefix, self.suffix = None, view
        out_shape = tuple(self.suffix.outputs[0].shape) if self.suffix.outputs else None
        if out_shape is None or len(out_shape) != 2 or out_shape[1] is None:
            raise ValueError(
                f"Model {model.name!r} has output shape {out_shape}; mc_predict "
                "needs a classifier whose output has shape (batch, classes)."
            )
        self.n_classes = int(out_shape[1])
        self.row_bytes = _activation_bytes(self.suffix)
        self.generators = [
            layer.seed_generator
            for layer in iter_layers(self.suffix)
            if is_dropout_layer(layer)
        ]
        # A Sequential suffix that starts with a bit-mask dropout layer (the
        # usual case) applies it to the broadcast inputs instead of a tiled copy.
        # If that layer is followed by a 2x2 max-pool, both run as one step.
        # (Not in the reference, which runs every layer as it is.)
        self.head = self.rest = None
        if split and isinstance(self.suffix, keras.Sequential) and isinstance(
            self.suffix.layers[0], _BitMaskSampling
        ):
            self.head = self.suffix.layers[0]
            start = 2 if self.head.pool_windows else 1
            if len(self.suffix.layers) > start:
                # (The layers' own `.input` is that of the uncropped view.)
                shape = self.suffix.inputs[0].shape
                for layer in self.suffix.layers[:start]:
                    shape = layer.compute_output_shape(shape)
                self.rest = keras.Sequential([keras.Input(shape[1:]), *self.suffix.layers[start:]])
        self._prefix_fn = _compile(self._run_prefix) if self.prefix is not None else None
        self._suffix_fns: dict[tuple, Callable] = {}

    def _run_prefix(self, x):
        return self.prefix(x, training=False)

    def suffix_fn(self, m: int, from_logits: bool):
        key = (m, from_logits)
        if key not in self._suffix_fns:
            suffix = self.suffix

            head, rest = self.head, self.rest

            def run(h):
                k = keras.ops.shape(h)[0]
                if head is not None:  # first dropout fused with the replication
                    if head.pool_windows:  # ... and with the max-pool after it
                        reps = head.call_replicated_pooled(h, m)
                    else:
                        reps = head.call_replicated(h, m)
                    out = reps if rest is None else rest(reps, training=False)
                else:
                    reps = keras.ops.tile(h, (m,) + (1,) * (len(h.shape) - 1))
                    out = suffix(reps, training=False)
                if from_logits:
                    out = keras.ops.softmax(out, axis=-1)
                out = keras.ops.reshape(out, (m, k, self.n_classes))
                return keras.ops.transpose(out, (0, 2, 1))  # (m, classes, k)

            self._suffix_fns[key] = _compile(run)
        return self._suffix_fns[key]

    def prefix_out(self, x):
        return x if self._prefix_fn is None else self._prefix_fn(x)


def _as_sequential(view: keras.Model) -> keras.Sequential | None:
    """The layers of a functional `view` whose graph is one chain, as a Sequential; else None.

    A chain: from the output back to the input, every layer was called on
    exactly one tensor, with no keyword argument but `training=False` (what
    the Sequential passes), and every layer of the model is on that path (no
    branches, no skip connections).
    """
    if isinstance(view, keras.Sequential) or len(view.inputs) != 1 or len(view.outputs) != 1:
        return None
    try:  # Keras' graph bookkeeping; anything unexpected means "not a chain"
        chain, tensor = [], view.outputs[0]
        while tensor is not view.inputs[0]:
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
    if len(chain) != sum(not isinstance(layer, keras.layers.InputLayer) for layer in view.layers):
        return None
    return keras.Sequential([keras.Input(view.inputs[0].shape[1:]), *reversed(chain)])


def _first_stochastic(layers) -> int:
    """Index of the first layer that is, or contains, a dropout layer."""
    return next(
        i
        for i, layer in enumerate(layers)
        if any(is_dropout_layer(sub) for sub in [layer, *iter_layers(layer)])
    )


def _mark_pool_windows(view: keras.Model) -> None:
    """Flag the first dropout of a Sequential `view` if a 2x2 max-pool follows it.

    Only a plain bit-mask `Dropout` (one mask bit per element) on an NHWC
    input of even height and width, followed by `MaxPooling2D` with pool and
    strides 2 and valid padding: its masks are then drawn window by window
    (`_BitMaskSampling.pool_windows`), which lets the replicated path pool
    with a cheap reduction. Same keep probability and values, per element.
    """
    if not isinstance(view, keras.Sequential):
        return
    layers = view.layers
    first = _first_stochastic(layers)
    if first + 1 >= len(layers):
        return
    drop, pool = layers[first], layers[first + 1]
    if not (
        isinstance(drop, _BitMaskSampling)
        and keras_dropout_class(drop) is keras.layers.Dropout
        and drop.noise_shape is None
        and type(pool) is keras.layers.MaxPooling2D
        and tuple(pool.pool_size) == (2, 2)
        and tuple(pool.strides) == (2, 2)
        and pool.padding == "valid"
        and pool.data_format == "channels_last"
    ):
        return
    dims = drop.live or spatial_dims(drop.input.shape)
    if len(drop.input.shape) == 4 and dims is not None and dims[0] % 2 == 0 and dims[1] % 2 == 0:
        drop.pool_windows = True


def _crops_pointwise(layer) -> bool:
    """True for a bit-mask dropout whose mask does not depend on the input's spatial extent."""
    if not isinstance(layer, _BitMaskSampling) or getattr(layer, "data_format", None) == "channels_first":
        return False
    return layer.noise_shape is None or all(d in (None, 1) for d in layer.noise_shape[1:-1])


def _mark_live_regions(view: keras.Model) -> None:
    """Set `live` on the bit-mask dropouts of a Sequential `view` (`mcbridge._extent`)."""
    if not isinstance(view, keras.Sequential):
        return
    needs = needed_input_extents(view.layers, passes=_crops_pointwise)
    for layer, need in zip(view.layers, needs):
        if isinstance(layer, _BitMaskSampling):
            layer.live = need


def _split_at_first_dropout(view: keras.Model):
    """Split `view` into (deterministic prefix or None, stochastic suffix).

    A Sequential prefix ends by cropping its output to the first dropout's
    `live` region (see `_mark_live_regions`), once per input.
    """
    if isinstance(view, keras.Sequential):
        layers = view.layers
        first = _first_stochastic(layers)
        # Only a bit-mask dropout that passes regions on has `live` set.
        live = getattr(layers[first], "live", None)
        if live is None and first == 0:
            return None, view
        crop = [] if live is None else [cropping_layer(spatial_dims(layers[first].input.shape), live)]
        prefix = keras.Sequential([keras.Input(view.inputs[0].shape[1:]), *layers[:first], *crop])
        suffix = keras.Sequential([keras.Input(prefix.outputs[0].shape[1:]), *layers[first:]])
        return prefix, suffix
    # Functional: cut at the input of the first dropout layer when every path
    # from the inputs to the outputs goes through it; otherwise do not split.
    first = next(layer for layer in view.layers if is_dropout_layer(layer))
    try:
        cut = first.input
        if cut is view.inputs[0]:
            return None, view
        prefix = keras.Model(view.inputs, cut)
        suffix = keras.Model(cut, view.outputs)
    except Exception:
        return None, view
    return prefix, suffix


_SAMPLERS: "weakref.WeakKeyDictionary[keras.Model, dict[bool, _Sampler]]" = (
    weakref.WeakKeyDictionary()
)


def _sampler_for(model: keras.Model, split: bool = True) -> _Sampler:
    samplers = _SAMPLERS.setdefault(model, {})
    sampler = samplers.get(split)
    if sampler is None or sampler.signature != tuple(id(l) for l in iter_layers(model)):
        sampler = samplers[split] = _Sampler(model, split)
    return sampler


# --------------------------------------------------------------------------


def _plan(n: int, n_samples: int, batch_size: int, row_bytes: int, budget: int):
    """Inputs `k` and samples `m` per compiled call, `k * m` rows within budget."""
    max_rows = max(1, budget // row_bytes)
    m = min(n_samples, max_rows)
    k = max(1, min(batch_size, n, max_rows // m))
    return k, m


def _check_probabilities(out: np.ndarray) -> None:
    sums = out.sum(axis=1, dtype=np.float64)
    if out.min() < -1e-5 or out.max() > 1 + 1e-5 or np.max(np.abs(sums - 1)) > 1e-3:
        raise ValueError(
            "The model's outputs are not probabilities (they must lie in [0, 1] "
            f"and sum to 1 over classes; received values in [{out.min():.4g}, "
            f"{out.max():.4g}] with row sums up to {np.max(np.abs(sums - 1)) + 1:.4g}). "
            "If the model outputs logits, call mc_predict(..., from_logits=True)."
        )


@ensemble_dispatch  # an mcbridge.Ensemble as `model` goes to mcbridge.ensemble
def mc_predict(
    model: keras.Model,
    x,
    n_samples: int = 50,
    batch_size: int = 128,
    seed: int | None = None,
    from_logits: bool = False,
    progress: bool | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> MCResult:
    """Monte Carlo dropout prediction: `n_samples` stochastic forward passes per input.

    Works on any single-input, single-output Sequential or functional Keras
    classifier with dropout layers (mcbridge's switchable ones or plain Keras `Dropout`,
    `SpatialDropout1D/2D/3D`, `GaussianDropout`, `AlphaDropout`), whatever
    its switch says; the model is left exactly as it was.

    Args:
        model: A `keras.Model` whose output has shape `(batch, classes)`.
        x: Inputs, shape `(n, *input_shape)`.
        n_samples: MC samples per input.
        batch_size: At most this many inputs per compiled call (each
            replicated `n_samples` times; fewer when the activations would
            exceed `memory_budget`).
        seed: Non-negative integer for bit-identical results (given the same
            `batch_size` and `memory_budget`, which fix the chunking), or None.
        from_logits: Apply a softmax to each sample (for logit outputs).
        progress: Show a progress bar; None shows one on long interactive runs.
        memory_budget: Bytes of activations one compiled call may use.

    Returns:
        An `MCResult` whose `samples` has shape `(n, classes, n_samples)`.

    Raises:
        ValueError: a bad argument, a model without dropout, or outputs that
            are not probabilities while `from_logits=False`.
        TypeError: `model` is not a Keras model or `x` is not numeric.
    """
    check_model(model)
    n_samples = positive_int("n_samples", n_samples)
    batch_size = positive_int("batch_size", batch_size)
    memory_budget = positive_int("memory_budget", memory_budget)
    seed = _check_seed(seed)
    if not isinstance(from_logits, (bool, np.bool_)):
        raise TypeError(
            "Invalid value received for argument `from_logits`. Expected True "
            f"or False. Received: from_logits={from_logits!r}"
        )
    return _mc_predict(
        model, x, n_samples, batch_size, seed, bool(from_logits), progress, memory_budget
    )


def _mc_predict(
    model: keras.Model,
    x,
    n_samples: int,
    batch_size: int,
    seed: int | None,
    from_logits: bool,
    progress: bool | None,
    memory_budget: int,
    split: bool = True,
) -> MCResult:
    """`mc_predict` on checked arguments; `split=False` replicates the whole model.

    With the same seed, `split=True` and `split=False` draw the same dropout
    masks (the stochastic layers see the same shapes and random states), so
    their samples agree up to floating-point rounding: the test that the
    deterministic-prefix fast path is exact.
    """
    sampler = _sampler_for(model, split)
    x = _check_x(x, sampler.input_shape, sampler.input_dtype)
    n, c = x.shape[0], sampler.n_classes
    k, m = _plan(n, n_samples, batch_size, sampler.row_bytes, memory_budget)
    run = sampler.suffix_fn(m, bool(from_logits))

    # Fresh, reproducible random state for every dropout layer.
    states = np.random.SeedSequence(seed).generate_state(2 * len(sampler.generators), np.uint32)
    for i, g in enumerate(sampler.generators):
        g.state.assign(np.array(states[2 * i : 2 * i + 2] >> 1, dtype=g.state.dtype))

    # (samples, classes, n) in C order == (n, classes, samples) in Fortran order.
    out = np.empty((n_samples, c, n), dtype=np.float32)
    n_chunks = -(-n // k) * -(-n_samples // m)
    bar = _progress_bar(progress, n_chunks, n * n_samples)
    step = 0
    for i0 in range(0, n, k):
        rows = min(k, n - i0)
        xb = x[i0 : i0 + rows]
        if rows < k:  # pad to the traced shape
            xb = np.concatenate([xb, np.repeat(xb[-1:], k - rows, axis=0)])
        h = sampler.prefix_out(xb)
        for s0 in range(0, n_samples, m):
            draws = min(m, n_samples - s0)
            block = keras.ops.convert_to_numpy(run(h))[:draws, :, :rows]
            if not from_logits:
                _check_probabilities(block)
            out[s0 : s0 + draws, :, i0 : i0 + rows] = block
            step += 1
            if bar is not None:
                bar.update(step)
    return MCResult(out.transpose(2, 1, 0))


def _progress_bar(progress, n_chunks: int, work: int):
    if progress is None:
        progress = n_chunks > 1 and work >= 200_000 and sys.stderr.isatty()
    if not progress:
        return None
    return keras.utils.Progbar(n_chunks, unit_name="chunk")
