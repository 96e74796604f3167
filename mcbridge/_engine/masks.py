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
"""

from __future__ import annotations

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


def bit_mask(noise_shape, rate: float, seed_generator, dtype):
    """Dropout multipliers in {0, 1 / (1 - rate)} of shape `noise_shape`, or None (rate 0).

    Args:
        noise_shape: 1-d int tensor (or list), the mask's shape.
        rate: Drop probability in `[0, 1]`.
        seed_generator: The `keras.random.SeedGenerator` to advance.
        dtype: The dtype of the multipliers (that of the masked tensor).
    """
    import tensorflow as tf

    if rate <= 0:
        return None
    j, b = bernoulli_plan(rate)
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
