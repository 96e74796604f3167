"""Dropout masks from random bits (TensorFlow backend).

Keras' TensorFlow dropout draws one float32 uniform per element (32 random
bits, then a compare, a cast and two multiplies): on CPU that costs more
than the convolutions of a small CNN. The sampling copies draw the same
Bernoulli masks from far fewer random bits. TensorFlow keeps an element
iff `u >= rate` with `u = k / 2**23`, `k` uniform on 23 bits, i.e. iff
`k >= J` with `J = ceil(rate * 2**23)`. Writing `J = j * 2**t` with `j` odd,
that is `X >= j` for the top `b = 23 - t` bits `X` of `k`. So `b` uniform
bit-planes (32 elements per uint32 word each) and a bit-sliced comparison
with the constant `j` give each element's keep bit with exactly Keras' keep
probability: 2 bits per element for rate 0.25, 1 for rate 0.5, at most 23.
One gather of a 256 x 8 table turns each byte of keep bits into 8
multipliers in {0, 1 / (1 - rate)}, and one multiply applies them, so kept
values are `x * scale`, bit for bit what Keras computes.

Keyed random streams (reproducible wherever a row is computed). Inside the
engine's compiled calls (`keyed_rows`), the bits are not drawn from a
stateful generator but computed: each replica row's words are a SplitMix64
stream (a 64-bit counter hashed by the `mix64` finaliser, TensorFlow integer
ops) whose start is a hash of the layer's key (its seed generator's state,
set from the run's `seed`), the input's key and the MC sample index. So the
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


def bernoulli_plan(rate: float) -> tuple[int, int]:
    """`(j, b)`: keep an element iff its `b` random bits, as an integer, are `>= j`."""
    big = np.float64(np.float32(rate)) * 2.0**_TF_RATE_BITS  # exact
    j, b = int(np.ceil(big)), _TF_RATE_BITS
    while b > 0 and j % 2 == 0:
        j, b = j // 2, b - 1
    return j, b


_BYTE_BITS = np.unpackbits(
    np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little"
).astype(np.float64)  # row v: the 8 bits of byte v, least significant first


# SplitMix64 constants (Steele, Lea & Flood, 2014).
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB

_KEYS = threading.local()


@contextlib.contextmanager
def keyed_rows(keys, samples):
    """While tracing one compiled call: rows come replica-major with these keys.

    Args:
        keys: `(k,)` integer tensor, the keys of the call's inputs.
        samples: `(m,)` integer tensor, the MC sample index of each replica;
            row `r * k + i` is sample `samples[r]` of input `keys[i]`.
    """
    import tensorflow as tf

    previous = getattr(_KEYS, "value", None)
    _KEYS.value = (tf.cast(keys, tf.uint64), tf.cast(samples, tf.uint64))
    try:
        yield
    finally:
        _KEYS.value = previous


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


def _layer_key(seed_generator, salt: int = 0):
    """The layer's 64-bit key: its seed generator's state (set by the engine from `seed`).

    `salt` tells apart several masks of one layer (a recurrent layer's gates).
    """
    import tensorflow as tf

    state = tf.cast(tf.convert_to_tensor(seed_generator.state), tf.uint64)
    key = mix64(tf.bitwise.left_shift(state[0], _u64(32)) + state[1])
    return key if not salt else mix64(key + _u64(salt) * _u64(_GOLDEN))


def row_bases(seed_generator, keys, samples, salt: int = 0):
    """`(m * k,)` uint64 stream starts, replica-major: hash of (layer key, `keys[i]`, `samples[r]`)."""
    import tensorflow as tf

    layer = _layer_key(seed_generator, salt)
    per_input = mix64(layer + mix64(keys + _u64(_GOLDEN)))  # (k,)
    sample_ctr = (samples + _u64(1)) * _u64(_GOLDEN)  # (m,)
    return tf.reshape(mix64(per_input[None, :] + sample_ctr[:, None]), [-1])


def keyed_words(bases, n_words):
    """`uint32` words `(rows, n_words)`: row `j` is the SplitMix64 stream started at `bases[j]`."""
    import tensorflow as tf

    n64 = (n_words + 1) // 2
    ctr = (tf.cast(tf.range(n64, dtype=tf.int64), tf.uint64) + _u64(1)) * _u64(_GOLDEN)
    z = mix64(bases[:, None] + ctr[None, :])  # (rows, n64)
    lo = tf.bitwise.bitwise_and(z, _u64(0xFFFFFFFF))
    hi = tf.bitwise.right_shift(z, _u64(32))
    words = tf.reshape(tf.stack([lo, hi], axis=-1), [tf.shape(bases)[0], 2 * n64])
    return tf.cast(words[:, :n_words], tf.uint32)


def current_keys():
    """`(keys, samples)` of the compiled call being traced, or None outside one."""
    return getattr(_KEYS, "value", None)


def bit_mask(noise_shape, rate: float, seed_generator, dtype, salt: int = 0):
    """Dropout multipliers in {0, 1 / (1 - rate)} of shape `noise_shape`, or None (rate 0).

    Args:
        noise_shape: 1-d int tensor (or list), the mask's shape.
        rate: Drop probability in `[0, 1]`.
        seed_generator: The `keras.random.SeedGenerator`: inside
            `keyed_rows`, its state is the layer's key (not advanced) and the
            first axis of `noise_shape` is the call's replica rows; outside,
            it is advanced and the bits are drawn for the whole mask at once.
        dtype: The dtype of the multipliers (that of the masked tensor).
        salt: Inside `keyed_rows`: tells apart several masks of one layer.
    """
    import tensorflow as tf

    if rate <= 0:
        return None
    j, b = bernoulli_plan(rate)
    if b == 0:  # keeps nothing (rate 1)
        return tf.zeros(noise_shape, dtype=dtype)
    keyed = current_keys()
    if keyed is not None:  # one stream per replica row
        rows = noise_shape[0]
        n = tf.reduce_prod(noise_shape[1:])
        words = (n + 31) // 32
        bases = row_bases(seed_generator, *keyed, salt=salt)
        planes = tf.reshape(keyed_words(bases, b * words), tf.stack([rows, b, words]))
        n_out = rows * n
    else:
        n = n_out = tf.reduce_prod(noise_shape)
        words = (n + 31) // 32
        seed = tf.cast(tf.math.floormod(seed_generator.next(), 2**31 - 2), tf.int32)
        planes = tf.random.stateless_uniform(
            tf.stack([b, words]), seed, minval=None, maxval=None, dtype=tf.uint32
        )
    keep = None  # bit-sliced `X >= j`, from the least significant bit up
    for i in range(b):
        plane = planes[:, i] if keyed is not None else planes[i]
        if (j >> i) & 1:
            keep = plane if keep is None else tf.bitwise.bitwise_and(plane, keep)
        elif keep is not None:
            keep = tf.bitwise.bitwise_or(plane, keep)
        # else: bit of j is 0 with nothing below it: X_i >= 0 always holds.
    # Rows of {0, 1} times the scale Keras uses, rounded to the input dtype.
    scale = tf.constant(1.0 / (1.0 - float(rate)), dtype=dtype)
    table = tf.constant(_BYTE_BITS, dtype=dtype) * scale
    byte_values = tf.cast(tf.bitcast(keep, tf.uint8), tf.int32)
    if keyed is not None:  # (rows, words, 4, 8) -> each row's first n multipliers
        mask = tf.reshape(tf.gather(table, byte_values), tf.stack([rows, -1]))[:, :n]
    else:
        mask = tf.reshape(tf.gather(table, byte_values), [-1])[:n_out]
    return tf.reshape(mask, noise_shape)


def replica_mask(kernel_shape, rate: float, seed_generator, dtype):
    """Inside `keyed_rows`: DropConnect multipliers `(m, *kernel_shape)`, one mask per replica.

    Replica `r`'s mask is keyed by the layer and its sample index only, so
    sample `s` is the same draw of the weights for every input.
    """
    import tensorflow as tf

    _, samples = current_keys()
    m = tf.shape(samples)[0]
    with keyed_rows(tf.zeros([1], tf.uint64), samples):
        return bit_mask(tf.concat([[m], tf.constant(kernel_shape, tf.int32)], 0), rate, seed_generator, dtype)


def keyed_uniform(shape, seed_generator):
    """Inside `keyed_rows`: `float64` uniforms in `(0, 1)` of `shape` (first axis: the replica rows).

    Each from one 32-bit word of the row's keyed stream: `(word + 0.5) / 2**32`.
    """
    import tensorflow as tf

    rows = shape[0]
    n = tf.reduce_prod(shape[1:])
    words = keyed_words(row_bases(seed_generator, *current_keys()), n)
    u = (tf.cast(words, tf.float64) + 0.5) * 2.0**-32
    return tf.reshape(u, tf.concat([[rows], tf.reshape(tf.cast(shape[1:], tf.int32), [-1])], 0))
