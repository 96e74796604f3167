"""Shared tiny models and data for the Python tests."""

import mcbridge  # first, as a user's script would: its quiet start keeps TensorFlow's start-up lines off the console

import keras
import numpy as np
import pytest


@pytest.fixture(params=[True, False], ids=["bf16-cpu", "no-bf16-cpu"])
def cpu_bf16(request, monkeypatch):
    """Runs a test under both answers to "does this CPU have bfloat16 instructions?".

    What mcbridge decides from the CPU must be tested under both answers
    whatever CPU runs the suite (AVX2-only and AVX-512 machines both occur).
    """
    from mcbridge._engine import plan

    monkeypatch.setattr(plan, "bfloat16_instructions", lambda: ["avx512_bf16"] if request.param else [])
    return request.param


@pytest.fixture
def x_small():
    """`(6, 8, 8, 1)` float32 inputs in [0, 1]."""
    return np.random.default_rng(0).random((6, 8, 8, 1), dtype=np.float32)


@pytest.fixture
def cnn():
    """A tiny compiled seed CNN (8x8x1, 3 classes) with switchable dropout."""
    return mcbridge.build_cnn(
        input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16,
        padding="same", seed=1,
    )  # fmt: skip


def plain_keras_model(batchnorm=True, dropout_layer=None, name="plain"):
    """A functional Keras model with plain Keras dropout (and BatchNormalization)."""
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    if batchnorm:
        h = keras.layers.BatchNormalization()(h)
    h = keras.layers.SpatialDropout2D(0.3)(h)
    h = keras.layers.Flatten()(h)
    h = (dropout_layer or keras.layers.Dropout(0.5))(h)
    outputs = keras.layers.Dense(3, activation="softmax")(h)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def plain_model():
    return plain_keras_model()


# -- dense outputs: (n, *dims, classes, samples) with labels (n, *dims) ------


def positions_as_rows(a, k=2):
    """`a` `(n, *dims, ...)` with its `k` trailing axes kept: positions as rows, written out.

    The last dim slowest, the input fastest (R's and Fortran's order), without
    `mcbridge.metrics._common.pooled`: what the tests compare it with.
    """
    d = a.ndim - k
    return a.transpose(*range(d - 1, -1, -1), *range(d, a.ndim)).reshape(-1, *a.shape[d:])


def dense_probabilities(n=4, dims=(3, 5), c=3, s=6, seed=0):
    """Random samples `(n, *dims, c, s)` (probabilities over `c`) and labels `(n, *dims)`."""
    rng = np.random.default_rng(seed)
    e = np.exp(2 * rng.normal(size=(n, *dims, c, s)))
    return e / e.sum(axis=-2, keepdims=True), rng.integers(0, c, size=(n, *dims))
