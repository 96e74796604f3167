"""Dropout masks from random bits (TensorFlow backend).

Keras' TensorFlow dropout draws one float32 uniform per element (32 random
bits, then a compare, a cast and two multiplies): on CPU that costs more
than the convolutions of a small CNN. The sampling copies draw the same
Bernoulli masks from far fewer random bits. TensorFlow keeps an element
iff `u >= rate` with `u = k / 2**23`, `k` uniform on 23 bits, i.e. iff
`k >= J` with `J = ceil(rate * 2**23)`. Writing `J = j * 2**t` with `j` odd,
that is `X >= j` for the top `b = 23 - t` bits `X` of `k`. So `b` uniform
bit-planes (32 or 64 elements per word each) and a bit-sliced comparison
with the constant `j` give each element's keep bit with exactly Keras' keep
probability: 2 bits per element for rate 0.25, 1 for rate 0.5, at most 23.
Each keep bit selects a multiplier in {0, 1 / (1 - rate)} and one multiply
applies it, so kept values are `x * scale`, bit for bit what Keras computes.
In the engine's compiled calls the expansion, the multiply and a 2x2 max-pool
after it run as one XLA kernel (`keyed_dropout`): no float mask is ever
written to memory.

Keyed random streams (reproducible wherever a row is computed). Inside the
engine's compiled calls (`keyed_rows`), the bits are not drawn from a
stateful generator but computed: each replica row's words are a SplitMix64
stream (a 64-bit counter hashed by the `mix64` finaliser, TensorFlow integer
ops) whose start is a hash of the layer's key (a state drawn per call from
the run's `seed` and passed to the compiled call as an argument, so
concurrent calls share no state), the input's key and the MC sample index. So the
mask of input `key`, sample `s` in a layer depends on those three only, not
on which chunk, batch size, memory budget or Spark partition computes it.
Per-replica layers (DropConnect: one weight mask per replica) key their masks
by the layer and the sample index only, so sample `s` is one draw of the
network's weights shared by every input (the usual DropConnect semantics).
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

_TF_RATE_BITS = 23


def spatial_dims(shape) -> tuple | None:
    """Spatial dims of a static channels-last shape `(batch, *spatial, channels)`, or None."""
    dims = tuple(shape[1:-1])
    return dims if dims and all(isinstance(d, int) for d in dims) else None


def bernoulli_plan(rate: float) -> tuple[int, int]:
    """`(j, b)`: keep an element iff its `b` random bits, as an integer, are `>= j`."""
    big = np.float64(np.float32(rate)) * 2.0**_TF_RATE_BITS  # exact
    j, b = int(np.ceil(big)), _TF_RATE_BITS
    while b > 0 and j % 2 == 0:
        j, b = j // 2, b - 1
    return j, b



# SplitMix64 constants (Steele, Lea & Flood, 2014).
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB

_KEYS = threading.local()


@contextlib.contextmanager
def keyed_rows(keys, samples, states):
    """While tracing one compiled call: rows come replica-major with these keys.

    Args:
        keys: `(k,)` integer tensor, the keys of the call's inputs.
        samples: `(m, k)` integer tensor, the MC sample index of each
            replica of each input: row `r * k + i` is sample `samples[r, i]`
            of input `keys[i]` (inputs may be at different samples: adaptive
            sampling).
        states: `{id(seed_generator): (2,) integer tensor}`: each sampling
            copy's layer key for this call (`layer_state`). Arguments of the
            compiled call, never the generators' variables: concurrent calls
            with different seeds share nothing.
    """
    import tensorflow as tf

    previous = getattr(_KEYS, "value", None)
    _KEYS.value = (tf.cast(keys, tf.uint64), tf.cast(samples, tf.uint64), dict(states))
    try:
        yield
    finally:
        _KEYS.value = previous


def layer_state(seed_generator):
    """Inside `keyed_rows`: the `(2,)` state that keys `seed_generator`'s masks in this call."""
    try:
        return _KEYS.value[2][id(seed_generator)]
    except KeyError:
        raise RuntimeError(
            "mcbridge internal error: a sampling layer's seed generator has no state in this "
            "compiled call (registry.seed_generators missed it)."
        ) from None


def _u64(value):
    import tensorflow as tf

    return tf.constant(value, tf.uint64)


def mix64(z):
    """SplitMix64's finaliser on a `uint64` tensor (a bijection with good avalanche)."""
    import tensorflow as tf

    shift, xor = tf.bitwise.right_shift, tf.bitwise.bitwise_xor
    z = xor(z, shift(z, _u64(30))) * _u64(_MIX1)
    z = xor(z, shift(z, _u64(27))) * _u64(_MIX2)
    return xor(z, shift(z, _u64(31)))


def _layer_key(state, salt: int = 0):
    """The layer's 64-bit key from its `(2,)` `state` (drawn by the engine from `seed`).

    `salt` tells apart several masks of one layer (a recurrent layer's gates).
    """
    import tensorflow as tf

    state = tf.cast(tf.convert_to_tensor(state), tf.uint64)
    key = mix64(tf.bitwise.left_shift(state[0], _u64(32)) + state[1])
    return key if not salt else mix64(key + _u64(salt) * _u64(_GOLDEN))


def row_bases(state, keys, samples, salt: int = 0):
    """`(m * k,)` uint64 stream starts, replica-major: hash of (layer key, `keys[i]`, `samples[r, i]`).

    `state`: the layer's `(2,)` key state in this call (`layer_state`).
    """
    import tensorflow as tf

    layer = _layer_key(state, salt)
    per_input = mix64(layer + mix64(keys + _u64(_GOLDEN)))  # (k,)
    sample_ctr = (samples + _u64(1)) * _u64(_GOLDEN)  # (m, k)
    return tf.reshape(mix64(per_input[None, :] + sample_ctr), [-1])


def keyed_words64(bases, n_words):
    """`uint64` words `(rows, n_words)`: row `j` is the SplitMix64 stream started at `bases[j]`."""
    import tensorflow as tf

    ctr = (tf.cast(tf.range(n_words, dtype=tf.int64), tf.uint64) + _u64(1)) * _u64(_GOLDEN)
    return mix64(bases[:, None] + ctr[None, :])


def keyed_words(bases, n_words):
    """`uint32` words `(rows, n_words)`: the low, then the high half of each `keyed_words64` word."""
    import tensorflow as tf

    n64 = (n_words + 1) // 2
    z = keyed_words64(bases, n64)
    lo = tf.bitwise.bitwise_and(z, _u64(0xFFFFFFFF))
    hi = tf.bitwise.right_shift(z, _u64(32))
    words = tf.reshape(tf.stack([lo, hi], axis=-1), [tf.shape(bases)[0], 2 * n64])
    return tf.cast(words[:, :n_words], tf.uint32)


def current_keys():
    """`(keys, samples)` of the compiled call being traced, or None outside one."""
    value = getattr(_KEYS, "value", None)
    return None if value is None else value[:2]


def _keep_words(planes, rate: float):
    """Bit-sliced `X >= j` over `b` uniform bit-planes: `planes(i)` gives plane `i` (uint32 words)."""
    import tensorflow as tf

    j, b = bernoulli_plan(rate)
    keep = None  # from the least significant bit up
    for i in range(b):
        if (j >> i) & 1:
            keep = planes(i) if keep is None else tf.bitwise.bitwise_and(planes(i), keep)
        elif keep is not None:
            keep = tf.bitwise.bitwise_or(planes(i), keep)
        # else: bit of j is 0 with nothing below it: X_i >= 0 always holds.
    return keep


def _keyed_keep_words(bases, n: int, rate: float):
    """Packed keep bits `(rows, ceil(n / 64))` (uint64) of the keyed streams started at `bases`.

    64-bit words straight from the hash: splitting them into uint32 words
    inside an XLA kernel corrupted the heap when the kernel's output was a
    single word per row (TensorFlow 2.21, CPU; see BENCHMARKS.md section 5).
    """
    import tensorflow as tf

    rows = tf.shape(bases)[0]
    _, b = bernoulli_plan(rate)
    words = (n + 63) // 64
    if b == 0:  # keeps nothing (rate 1)
        return tf.zeros(tf.stack([rows, words]), tf.uint64)
    planes = tf.reshape(keyed_words64(bases, b * words), tf.stack([rows, b, words]))
    return _keep_words(lambda i: planes[:, i], rate)


def _bits(words, n):
    """`(rows, words)` uint32 or uint64 -> `(rows, n)` bool: element `e` is bit `e % w` of word `e // w`."""
    import tensorflow as tf

    dtype = words.dtype
    shifts = tf.constant(np.arange(8 * dtype.size, dtype=dtype.as_numpy_dtype))
    bits = tf.bitwise.bitwise_and(tf.bitwise.right_shift(words[:, :, None], shifts), tf.ones([], dtype))
    return tf.reshape(bits, tf.stack([tf.shape(words)[0], -1]))[:, :n] > 0


def _multipliers(keep, rate: float, dtype):
    """{0, 1 / (1 - rate)} in `dtype` (the scale Keras uses, rounded to the input dtype)."""
    import tensorflow as tf

    scale = tf.constant(1.0 / (1.0 - float(rate)), dtype=dtype)
    return tf.where(keep, scale, tf.zeros([], dtype))


def bit_mask(noise_shape, rate: float, seed_generator, dtype, salt: int = 0):
    """Dropout multipliers in {0, 1 / (1 - rate)} of shape `noise_shape`, or None (rate 0).

    Args:
        noise_shape: 1-d int tensor (or list), the mask's shape.
        rate: Drop probability in `[0, 1]`.
        seed_generator: The `keras.random.SeedGenerator`: inside
            `keyed_rows`, the layer's key is its state in the call
            (`layer_state`; the generator is not read nor advanced) and the
            first axis of `noise_shape` is the call's replica rows; outside,
            it is advanced and the bits are drawn for the whole mask at once.
        dtype: The dtype of the multipliers (that of the masked tensor).
        salt: Inside `keyed_rows`: tells apart several masks of one layer.
    """
    import tensorflow as tf

    if rate <= 0:
        return None
    _, b = bernoulli_plan(rate)
    if b == 0:  # keeps nothing (rate 1)
        return tf.zeros(noise_shape, dtype=dtype)
    keyed = current_keys()
    if keyed is not None:  # one stream per replica row
        n = tf.reduce_prod(noise_shape[1:])
        keep = _bits(_keyed_keep_words(row_bases(layer_state(seed_generator), *keyed, salt=salt), n, rate), n)
    else:
        n = tf.reduce_prod(noise_shape)
        words = (n + 31) // 32
        seed = tf.cast(tf.math.floormod(seed_generator.next(), 2**31 - 2), tf.int32)
        planes = tf.random.stateless_uniform(
            tf.stack([b, words]), seed, minval=None, maxval=None, dtype=tf.uint32
        )
        keep = _bits(_keep_words(lambda i: planes[i : i + 1], rate), n)
    return tf.reshape(_multipliers(keep, rate, dtype), noise_shape)


#: Mask layouts of `keyed_dropout`.
LAYOUTS = ("elements", "windows", "pooled")
_DRAW: dict[tuple, object] = {}  # (rate, mask elements per row) -> the draw kernel
_APPLY: dict[tuple, object] = {}  # config -> the expand-and-apply kernel


def keyed_dropout(
    x, rate: float, seed_generator, *, mask_dims=None, layout="elements", replicate=False, dtype=None, out_dtype=None
):
    """Inside `keyed_rows`: `x` times its dropout mask, without a mask tensor in memory.

    Two XLA kernels (`jit_compile=True`): one draws the packed keep bits
    (`(rows, words)` uint64, 1/64 of the mask's size), the other expands and
    applies them (and pools), fused, so no float mask is ever written to
    memory: on CPU that traffic cost more than the random bits. (One kernel
    for both would let XLA recompute each word's hash for each of its 32 bits.)
    The keep bits are those of `bit_mask` (the same keyed streams, the same
    keep probability) and kept values are `x * scale`, bit for bit Keras'.

    Args:
        x: `(m * k, ...)` replica rows, or `(k, ...)` inputs if `replicate`
            (each input's `m` replicas made inside the kernel, never copied).
        mask_dims: The mask's shape per row, `x`'s if None; a 1 broadcasts
            over that axis (spatial dropout).
        layout: `"elements"`: mask bits in `x`'s element order;
            `"windows"`: an NHWC `x` of even height and width, bits in 2x2
            window order `(y // 2, x // 2, y % 2, x % 2, c)`; `"pooled"`: the
            same bits, and the result 2x2-max-pooled `(m * k, h / 2, w / 2, c)`.
        dtype: What the mask is applied in (`x` cast to it in the same
            kernel), `x`'s dtype if None.
        out_dtype: The result's dtype (cast in the same kernel), `dtype` if None.

    Returns:
        The masked `x` (pooled for `"pooled"`), rows replica-major.
    """
    import tensorflow as tf

    keys, samples = current_keys()
    dims = tuple(x.shape[1:]) if mask_dims is None else tuple(mask_dims)
    if layout != "elements":
        h, w, c = dims
        dims = (h // 2, w // 2, 2, 2, c)
    n = int(np.prod(dims))
    if (rate, n) not in _DRAW:
        _DRAW[rate, n] = tf.function(
            lambda state, keys, samples: _keyed_keep_words(row_bases(state, keys, samples), n, rate),
            jit_compile=True, reduce_retracing=True, autograph=False,
        )
    config = (float(rate), dims, layout, bool(replicate), str(dtype or x.dtype.name), out_dtype and str(out_dtype))
    if config not in _APPLY:
        _APPLY[config] = tf.function(
            lambda x, words: _apply(x, words, *config), jit_compile=True, reduce_retracing=True, autograph=False
        )
    words = _DRAW[rate, n](layer_state(seed_generator), keys, samples)
    return _APPLY[config](x, tf.reshape(words, tf.stack([tf.shape(samples)[0], tf.shape(keys)[0], -1])))


def _apply(x, words, rate, dims, layout, replicate, dtype, out_dtype):
    """`keyed_dropout`'s second kernel: `words` `(m, k, words)` expanded and applied to `x` in `dtype`."""
    import tensorflow as tf

    out = _masked(tf.cast(x, dtype), words, rate, dims, layout, replicate)
    return out if out_dtype is None else tf.cast(out, out_dtype)


def _masked(x, words, rate, dims, layout, replicate):
    import tensorflow as tf

    m, k = tf.shape(words)[0], tf.shape(words)[1]
    x_dims = tuple(x.shape[1:])
    keep = tf.reshape(_bits(tf.reshape(words, tf.stack([m * k, -1])), int(np.prod(dims))), tf.stack([m, k, *dims]))
    xs = x[None] if replicate else tf.reshape(x, tf.stack([m, k, *x_dims]))
    mult = _multipliers(keep, rate, x.dtype)
    if layout == "elements":
        return tf.reshape(xs * mult, tf.stack([m * k, *x_dims]))
    h, w, c = x_dims
    if layout == "windows":
        mult = tf.reshape(tf.transpose(mult, [0, 1, 2, 4, 3, 5, 6]), tf.stack([m, k, h, w, c]))
        return tf.reshape(xs * mult, tf.stack([m * k, h, w, c]))
    # The max of the four masked window elements as element-wise steps (XLA's
    # CPU reduction over a short middle axis measured several times slower).
    xw = tf.reshape(xs, tf.stack([tf.shape(xs)[0], tf.shape(xs)[1], h // 2, 2, w // 2, 2, c]))
    part = [xw[:, :, :, dy, :, dx] * mult[:, :, :, :, dy, dx] for dy in (0, 1) for dx in (0, 1)]
    pooled = tf.maximum(tf.maximum(part[0], part[1]), tf.maximum(part[2], part[3]))
    return tf.reshape(pooled, tf.stack([m * k, h // 2, w // 2, c]))


def replica_mask(kernel_shape, rate: float, seed_generator, dtype):
    """Inside `keyed_rows`: DropConnect multipliers `(m, *kernel_shape)`, one mask per replica.

    Replica `r`'s mask is keyed by the layer and its sample index only, so
    sample `s` is the same draw of the weights for every input.
    """
    import tensorflow as tf

    _, samples = current_keys()
    m = tf.shape(samples)[0]
    # (one mask per sample index: every input of a call is at the same samples here)
    with keyed_rows(tf.zeros([1], tf.uint64), samples[:, :1], _KEYS.value[2]):
        return bit_mask(tf.concat([[m], tf.constant(kernel_shape, tf.int32)], 0), rate, seed_generator, dtype)


def keyed_uniform(shape, seed_generator):
    """Inside `keyed_rows`: `float64` uniforms in `(0, 1)` of `shape` (first axis: the replica rows).

    Each from one 32-bit word of the row's keyed stream: `(word + 0.5) / 2**32`.
    """
    import tensorflow as tf

    rows = shape[0]
    n = tf.reduce_prod(shape[1:])
    words = keyed_words(row_bases(layer_state(seed_generator), *current_keys()), n)
    u = (tf.cast(words, tf.float64) + 0.5) * 2.0**-32
    return tf.reshape(u, tf.concat([[rows], tf.reshape(tf.cast(shape[1:], tf.int32), [-1])], 0))
