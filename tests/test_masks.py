"""Keyed dropout masks (`mcbridge/_engine/masks.py`) as `mc_predict` draws them."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import mcbridge


@pytest.mark.parametrize("rate", [0.25, 0.5])
def test_keyed_masks_drop_at_the_rate_in_every_bit_of_a_word(rate):
    inputs = keras.Input((640,))
    model = keras.Model(inputs, keras.layers.Dropout(rate)(inputs))
    out = mcbridge.mc_predict(model, np.ones((20, 640), "float32"), n_samples=40, seed=1, task="regression").samples
    np.testing.assert_array_equal(np.unique(out), [0, np.float32(1 / (1 - rate))])
    # Feature e is bit e % 64 of its row's packed keep words: every position drops at the rate.
    dropped = (out == 0).reshape(20, 10, 64, 40).mean(axis=(0, 1, 3))  # (64,) per bit position
    assert np.all(np.abs(dropped - rate) < 5 * np.sqrt(rate * (1 - rate) / (20 * 10 * 40)))


def test_one_word_masks_keep_the_heap_intact(tmp_path):
    # A dropout whose keep bits fit one word per row, sampled in calls of
    # several shapes, under glibc's heap checks: TensorFlow 2.21's XLA kernel
    # that split the hash into 32-bit words overflowed its output there.
    script = tmp_path / "one_word.py"
    script.write_text(textwrap.dedent("""
        import keras, numpy as np, mcbridge
        inputs = keras.Input((32,))
        h = keras.layers.Dropout(0.5)(keras.layers.Dense(32)(inputs))
        model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))
        for n_samples in (6, 2, 3, 5, 4, 7, 1, 9) * 6:
            x = np.random.default_rng(n_samples).random((5, 32), dtype=np.float32)
            mcbridge.mc_predict(model, x, n_samples=n_samples, seed=n_samples)
        print("heap ok")
    """))
    env = {**os.environ, "GLIBC_TUNABLES": "glibc.malloc.check=3:glibc.malloc.perturb=165"}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "heap ok" in done.stdout, done.stderr[-2000:]
