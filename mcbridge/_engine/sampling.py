"""Always-sampling copies of the registered stochastic layers (TensorFlow backend).

The copies are built by `registry.sampling_copy` from a layer's config, with
what the registry and the plan decided for them passed at construction
(`feature_maps`, `live`, `mask_layout`); this module knows neither. They own fresh random state, so the user's layers are never
called in a way that changes them.
"""

from __future__ import annotations

import keras

from mcbridge._engine import masks
from mcbridge._engine.masks import bit_mask, current_keys, keyed_uniform, replica_mask, spatial_dims


class BitMaskSampling:
    """Mixin for a Keras `Dropout` / `SpatialDropout*` class: always drops, cheap masks.

    Inside the engine's compiled calls (`masks.keyed_rows`) the mask is drawn
    and applied in one fused kernel (`masks.keyed_dropout`); elsewhere (the
    layer called on its own) from the layer's seed generator, as `bit_mask`.

    Args (keyword, on top of the Keras layer's):
        live: The leading spatial extents of the input that the model's
            output depends on (`graph.needed_input_extents`), or None for
            all of it: only that region is masked.
        feature_maps: One mask entry per feature map (row and channel),
            shared over the spatial axes (spatial dropout).
        mask_layout: `"elements"`; `"windows"`: for a plain `Dropout`
            followed by a 2x2 max-pool, the mask bits laid out window by
            window; `"pooled"`: the same masks, and this layer also does the
            max-pool (output `(rows, h // 2, w // 2, c)`): the engine's fast
            path then leaves the pool layer out. Same values in all three.

    Inputs are not cast by Keras (`autocast=False`) but by the layer: in
    the mask kernel, to the layer's compute dtype. Attribute `output_dtype`
    (None: the compute dtype): set by the engine to `"bfloat16"` where the
    next layer computes in bfloat16 anyway. So around bfloat16 layers both
    casts happen in the mask kernel instead of a pass of their own each.
    """

    output_dtype: str | None = None

    def __init__(
        self, *args, live: tuple | None = None, mask_layout: str = "elements", feature_maps: bool = False, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.feature_maps = bool(feature_maps)
        self.autocast = False  # (not every Keras dropout's __init__ takes it)
        if mask_layout not in masks.LAYOUTS:
            raise ValueError(f"mask_layout must be one of {masks.LAYOUTS}, not {mask_layout!r}")
        self.live = None if live is None else tuple(live)
        self.mask_layout = mask_layout

    def _mask_dims(self, dims: tuple) -> tuple:
        """The mask's shape per row for an input of shape `(rows, *dims)`: a 1 broadcasts."""
        if self.feature_maps:  # one mask entry per (row, channel)
            if getattr(self, "data_format", "channels_last") == "channels_first":
                return (dims[0], *[1] * (len(dims) - 1))
            return (*[1] * (len(dims) - 1), dims[-1])
        if self.noise_shape is None:
            return dims
        return tuple(d if n is None else n for d, n in zip(dims, self.noise_shape[1:]))

    def call(self, inputs, training=False):
        import tensorflow as tf

        full = spatial_dims(inputs.shape)
        if self.live is not None and full != self.live:
            # The full-replication reference sees the whole input: mask only
            # the live region, as the fast path (which crops the rest off
            # before replicating) does, so both draw the same masks.
            live = inputs[(slice(None), *(slice(0, e) for e in self.live))]
            pads = [[0, 0], *([0, f - e] for f, e in zip(full, self.live)), [0, 0]]
            layout = "windows" if self.mask_layout == "pooled" else self.mask_layout
            out = tf.pad(self._masked(live, layout), pads)
            return _cast(tf.nn.max_pool2d(out, 2, 2, "VALID") if self.mask_layout == "pooled" else out, self.output_dtype)
        return self._masked(inputs, self.mask_layout, self.output_dtype)

    def call_replicated(self, inputs, m: int):
        """`call(tile(inputs, m))` inside `keyed_rows`, without materialising the tiled copy.

        Row `r * k + i` of the result is replica `r` of input `i`, with the
        same masks `call` draws for the tiled batch.
        """
        if self.rate <= 0:
            tiled = keras.ops.tile(_cast(inputs, self.compute_dtype), (m,) + (1,) * (len(inputs.shape) - 1))
            return _cast(self._pool(tiled) if self.mask_layout == "pooled" else tiled, self.output_dtype)
        return masks.keyed_dropout(
            inputs, self.rate, self.seed_generator, mask_dims=self._mask_dims(tuple(inputs.shape[1:])),
            layout=self.mask_layout, replicate=True, dtype=self.compute_dtype, out_dtype=self.output_dtype,
        )

    def _masked(self, inputs, layout: str, out_dtype: str | None = None):
        if masks.current_keys() is not None and self.rate > 0:  # the cast fused into the mask kernel
            dims = self._mask_dims(tuple(inputs.shape[1:]))
            return masks.keyed_dropout(
                inputs, self.rate, self.seed_generator, mask_dims=dims, layout=layout, dtype=self.compute_dtype,
                out_dtype=out_dtype,
            )
        return _cast(self._unkeyed(_cast(inputs, self.compute_dtype), layout), out_dtype)

    def _unkeyed(self, inputs, layout: str):
        import tensorflow as tf

        if self.rate <= 0:
            return self._pool(inputs) if layout == "pooled" else inputs
        dims = self._mask_dims(tuple(inputs.shape[1:]))
        rows = tf.shape(inputs)[0]
        if layout == "elements":
            return inputs * masks.bit_mask(tf.stack([rows, *dims]), self.rate, self.seed_generator, inputs.dtype)
        h, w, c = dims  # window-major bits: (row, y // 2, x // 2, y % 2, x % 2, c)
        mask = masks.bit_mask(tf.stack([rows, h // 2, w // 2, 2, 2, c]), self.rate, self.seed_generator, inputs.dtype)
        out = inputs * tf.reshape(tf.transpose(mask, [0, 1, 3, 2, 4, 5]), tf.shape(inputs))
        return self._pool(out) if layout == "pooled" else out

    @staticmethod
    def _pool(x):
        import tensorflow as tf

        return tf.nn.max_pool2d(x, 2, 2, "VALID")

    def compute_output_spec(self, inputs, *args, **kwargs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.output_dtype or self.compute_dtype)

    def compute_output_shape(self, input_shape):
        if self.mask_layout != "pooled":
            return tuple(input_shape)
        rows, h, w, c = input_shape
        return (rows, None if h is None else h // 2, None if w is None else w // 2, c)


def _cast(x, dtype: str | None):
    return x if dtype is None or keras.backend.standardize_dtype(x.dtype) == dtype else keras.ops.cast(x, dtype)


_BIT_MASK_CLASSES: dict[type, type] = {}


def bit_mask_class(base: type) -> type:
    """The always-sampling bit-mask class for the Keras dropout class `base` (cached)."""
    if base not in _BIT_MASK_CLASSES:
        _BIT_MASK_CLASSES[base] = type(f"_Sampling{base.__name__}", (BitMaskSampling, base), {})
    return _BIT_MASK_CLASSES[base]


class KeyedNoiseSampling:
    """Mixin for the MC copies of `GaussianDropout` / `AlphaDropout`: keyed noise.

    Inside the engine's compiled calls (`masks.keyed_rows`) the noise of each
    replica row comes from its keyed stream, so it depends on the seed, the
    input's key and the sample index only: Gaussian noise `N(1, rate / (1 -
    rate))` by the inverse normal CDF of a 32-bit uniform (the same
    distribution as Keras' draw, not the same numbers), alpha dropout with
    Keras' keep probability (`bit_mask`) and affine correction. Elsewhere the
    layer runs as Keras' does.
    """

    def call(self, inputs, training=False):
        import tensorflow as tf

        if current_keys() is None or self.rate <= 0:
            return super().call(inputs, training=training)
        if isinstance(self, keras.layers.GaussianDropout):
            stddev = (self.rate / (1.0 - self.rate)) ** 0.5
            z = tf.math.ndtri(keyed_uniform(tf.shape(inputs), self.seed_generator))
            return inputs * tf.cast(1.0 + stddev * z, inputs.dtype)
        shape = tf.shape(inputs)
        if self.noise_shape is not None:
            shape = tf.stack([shape[i] if d is None else d for i, d in enumerate(self.noise_shape)])
        kept = tf.cast(bit_mask(shape, self.rate, self.seed_generator, inputs.dtype) > 0, inputs.dtype)
        alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
        a = ((1 - self.rate) * (1 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        return a * (inputs * kept + alpha_p * (1 - kept)) + b


_KEYED_NOISE_CLASSES: dict[type, type] = {}


def keyed_noise_class(base: type) -> type:
    """The keyed MC copy class for the switchable `GaussianDropout` / `AlphaDropout` class `base`."""
    if base not in _KEYED_NOISE_CLASSES:
        _KEYED_NOISE_CLASSES[base] = type(f"_Keyed{base.__name__}", (KeyedNoiseSampling, base), {})
    return _KEYED_NOISE_CLASSES[base]


class ReplicaDropConnect(keras.layers.Layer):
    """Always-sampling DropConnect: one weight mask per MC replica.

    Calls `source`'s own computation (`apply_kernel`) with its kernel dropped
    by a mask of this copy's own random state: the user's layer, its weights
    and its random state are read, never written. Rows come replica-major
    (row `r * k + i` is replica `r` of input `i`): replica `r` gets mask `r`.
    """

    def __init__(self, source, replicas: int | None, **kwargs):
        super().__init__(name=f"{source.name}_sampling", dtype=source.dtype_policy, **kwargs)
        self.source = source
        self.replicas = replicas
        self.seed_generator = keras.random.SeedGenerator(source.seed)

    def call(self, inputs, training=False):
        ops = keras.ops
        m = self.replicas or 1
        src = self.source
        if src.rate == 0:
            kernels = src.kernel[None]
        elif current_keys() is not None:  # keyed by (layer, sample index): see masks
            kernels = src.kernel[None] * replica_mask(tuple(src.kernel.shape), src.rate, self.seed_generator,
                                                      src.kernel.dtype)
        else:
            kernels = keras.random.dropout(
                ops.broadcast_to(src.kernel[None], (m, *src.kernel.shape)), src.rate, seed=self.seed_generator
            )
        shape = ops.shape(inputs)
        if m == 1:
            return src.apply_kernel(inputs, kernels[0])
        if isinstance(src, keras.layers.Dense):
            # (m * k, ..., in) -> (m, k * ..., in): one matrix product per replica.
            x = ops.reshape(inputs, (m, -1, shape[-1]))
            out = src.apply_kernel(x, kernels)  # batched matmul
            return ops.reshape(out, (shape[0], *inputs.shape[1:-1], src.units))
        if src.data_format == "channels_last" and src.groups == 1:
            return self._grouped_conv(inputs, kernels, m)
        x = ops.reshape(inputs, (m, -1, *inputs.shape[1:]))
        out = ops.stack([src.apply_kernel(x[r], kernels[r]) for r in range(m)])
        return ops.reshape(out, (shape[0], *out.shape[2:]))

    def _grouped_conv(self, inputs, kernels, m: int):
        """All replicas in one grouped convolution: replica `r` is group `r` of the channels.

        Inputs `(m * k, *spatial, c)` become `(k, *spatial, m * c)` and the
        kernels `(m, *window, c, f)` one kernel `(*window, c, m * f)`; on CPU
        one grouped call is faster than `m` convolutions.
        """
        ops, src = keras.ops, self.source
        rank = len(inputs.shape) - 2
        c, f = inputs.shape[-1], src.filters
        x = ops.reshape(inputs, (m, -1, *inputs.shape[1:]))  # (m, k, *spatial, c)
        x = ops.transpose(x, (1, *range(2, rank + 2), 0, rank + 2))  # (k, *spatial, m, c)
        x = ops.reshape(x, (-1, *inputs.shape[1:-1], m * c))
        w = ops.transpose(kernels, (*range(1, rank + 2), 0, rank + 2))  # (*window, c, m, f)
        w = ops.reshape(w, (*kernels.shape[1:-1], m * f))
        y = src.convolution_op(x, w)  # (k, *spatial', m * f)
        spatial = y.shape[1:-1]
        y = ops.reshape(y, (-1, *spatial, m, f))
        y = ops.transpose(y, (rank + 1, 0, *range(1, rank + 1), rank + 2))  # (m, k, *spatial', f)
        return src.add_bias_and_activate(ops.reshape(y, (-1, *spatial, f)))

    def compute_output_shape(self, input_shape):
        return self.source.compute_output_shape(input_shape)


def rnn_cells(layer) -> list:
    """The cells of a recurrent layer (a `StackedRNNCells`' each), or [] for other layers."""
    cell = getattr(layer, "cell", None)
    if cell is None:
        return []
    return list(cell.cells) if isinstance(cell, keras.layers.StackedRNNCells) else [cell]


class SamplingRecurrent(keras.layers.Layer):
    """Always-sampling variational dropout of a Keras recurrent layer.

    `LSTM`, `GRU`, `SimpleRNN`, `ConvLSTM1D/2D/3D`, a generic `RNN` of Keras'
    dropout cells (stacked too) and a `Bidirectional` of them.

    Runs `source` (the user's layer, weights shared) with its dropout on,
    drawing Keras' own variational masks (one per row and sequence, fixed over
    the time steps) from this copy's random state: while the call is traced,
    the cell reads this copy's seed generator instead of its own, which is put
    back at once, so the user's layer and its random state are left as they were.
    """

    def __init__(self, source, **kwargs):
        super().__init__(name=f"{source.name}_sampling", dtype=source.dtype_policy, **kwargs)
        self.source = source
        self.supports_masking = source.supports_masking  # (the mask passes on as the source's does)
        self.seed_generator = keras.random.SeedGenerator(getattr(self._cells()[0], "seed", None))

    def compute_mask(self, inputs, previous_mask=None):
        return self.source.compute_mask(inputs, previous_mask)

    def _cells(self) -> list:
        """The cells whose dropout this copy samples: an RNN's (each of stacked cells), or both directions'."""
        src = self.source
        if isinstance(src, keras.layers.Bidirectional):
            return [*rnn_cells(src.forward_layer), *rnn_cells(src.backward_layer)]
        return rnn_cells(src)

    def call(self, inputs, training=False, mask=None, initial_state=None):
        cells = self._cells()
        own = [cell.seed_generator for cell in cells]
        keyed = current_keys() is not None
        for index, cell in enumerate(cells):
            object.__setattr__(cell, "seed_generator", self.seed_generator)  # (no tracking)
            if keyed:  # the cell's masks from the rows' keyed streams (an instance attribute, removed after)
                object.__setattr__(cell, "_create_dropout_mask", self._keyed_mask_maker(cell, index))
        try:
            kwargs = {} if initial_state is None else {"initial_state": initial_state}
            return self.source(inputs, training=True, mask=mask, **kwargs)
        finally:
            for cell, generator in zip(cells, own):
                object.__setattr__(cell, "seed_generator", generator)
                if keyed:
                    object.__delattr__(cell, "_create_dropout_mask")

    def _keyed_mask_maker(self, cell, index: int = 0):
        """Keras' `DropoutRNNCell._create_dropout_mask`, drawn with `bit_mask` from keyed streams.

        The cell asks for its input masks, then its recurrent masks (a list
        of `dropout_mask_count` for LSTM, GRU and ConvLSTM); each gets its own
        salt, in that order, so each is its own stream. Cell `index` (the
        next of stacked cells, a `Bidirectional`'s backward direction)
        counts its salts from `1000 * index`.
        """
        import tensorflow as tf

        made = [1000 * index]

        def one(step_input, rate):
            made[0] += 1
            return bit_mask(tf.shape(step_input), rate, self.seed_generator, step_input.dtype, salt=made[0])

        def create(step_input, rate):
            count = getattr(cell, "dropout_mask_count", None)
            if count is None:
                return one(step_input, rate)
            return [one(step_input, rate) for _ in range(count)]

        return create

    def compute_output_shape(self, input_shape):
        return self.source.compute_output_shape(input_shape)


#: Attention layers whose dropout is a `Dropout` sublayer `_dropout_layer` on the attention weights.
_DROPOUT_SUBLAYER = tuple(
    getattr(keras.layers, n) for n in ("MultiHeadAttention", "GroupQueryAttention") if hasattr(keras.layers, n)
)
#: Every attention layer `SamplingAttention` samples.
ATTENTION = (*_DROPOUT_SUBLAYER, keras.layers.Attention, keras.layers.AdditiveAttention)


class SamplingAttention(keras.layers.Layer):
    """Always-sampling attention dropout of a Keras attention layer (`ATTENTION`).

    Runs `source` (the user's layer, weights shared) with the dropout on its
    attention weights done by a bit-mask `Dropout` copy of this layer's own
    (keyed masks inside the engine's compiled calls, one per replica row
    over all heads and positions): while the call is traced, a
    `MultiHeadAttention`'s or `GroupQueryAttention`'s dropout sublayer, or
    an `Attention`'s score application, is this copy's, and is put back at once.
    """

    def __init__(self, source, **kwargs):
        super().__init__(name=f"{source.name}_sampling", dtype=source.dtype_policy, **kwargs)
        self.source = source
        rate = source._dropout if isinstance(source, keras.layers.MultiHeadAttention) else source.dropout
        self.dropout = bit_mask_class(keras.layers.Dropout)(rate=float(rate), dtype=source.dtype_policy)
        self.seed_generator = self.dropout.seed_generator  # (where the engine finds the layer's key)
        self.supports_masking = source.supports_masking

    def compute_mask(self, inputs, previous_mask=None):
        def first(value):  # (Keras passes `call`'s positional arguments as a tuple)
            return value[0] if isinstance(value, tuple) and len(value) == 1 else value

        return self.source.compute_mask(first(inputs), first(previous_mask))

    def call(self, *args, **kwargs):
        src = self.source
        if isinstance(src, _DROPOUT_SUBLAYER):
            own = src._dropout_layer
            object.__setattr__(src, "_dropout_layer", self.dropout)  # (no tracking)
            try:
                return src(*args, **kwargs)
            finally:
                object.__setattr__(src, "_dropout_layer", own)
        apply_scores = type(src)._apply_scores

        def sampled(scores, value, scores_mask=None, training=False):
            _, weights = apply_scores(src, scores, value, scores_mask=scores_mask, training=False)
            weights = self.dropout(weights)
            return keras.ops.matmul(weights, value), weights

        object.__setattr__(src, "_apply_scores", sampled)  # (an instance attribute, removed after)
        try:
            return src(*args, **kwargs)
        finally:
            object.__delattr__(src, "_apply_scores")

    def compute_output_spec(self, *args, **kwargs):
        return self.source.compute_output_spec(*args, **kwargs)
