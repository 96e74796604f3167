"""The engine: the registry of stochastic layers and the plan as a value."""

import dataclasses

import keras
import numpy as np
import pytest

import mcbridge
from mcbridge._engine import plan, registry
from mcbridge.predict import _sampler_for
from mcbridge.switch import iter_layers


class _CustomNoise(keras.layers.Layer):
    """A user's noise layer with its own random state, unknown to mcbridge."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1)

    def call(self, x, training=False):
        return x + keras.random.normal(keras.ops.shape(x), seed=self.seed_generator)


def _head(*middle, input_shape=(8, 8, 1)):
    return keras.Sequential([
        keras.Input(input_shape), keras.layers.Flatten(), *middle, keras.layers.Dense(3, activation="softmax"),
    ])  # fmt: skip


def test_unregistered_random_layer_is_refused_by_name(x_small):
    model = _head(_CustomNoise(name="my_noise"))
    with pytest.raises(ValueError, match=r"'my_noise' \(_CustomNoise\) draws random numbers.*SeedGenerator"):
        mcbridge.mc_predict(model, x_small)
    # Even next to a dropout layer: never silently put in the deterministic prefix.
    model = _head(_CustomNoise(name="my_noise"), keras.layers.Dropout(0.5))
    with pytest.raises(ValueError, match="my_noise"):
        mcbridge.mc_predict(model, x_small)


class _NoisyCell(keras.layers.Layer):
    """A recurrent cell of its own that draws random numbers (not a Keras dropout cell)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.state_size = self.output_size = 4
        self.seed_generator = keras.random.SeedGenerator(1)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 4))

    def call(self, x, states, training=False):
        h = keras.ops.matmul(x, self.kernel) + states[0]
        if training:
            h = h + keras.random.normal(keras.ops.shape(h), seed=self.seed_generator)
        return h, [h]


def test_a_recurrent_cell_mcbridge_cannot_sample_is_refused():
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.RNN(_NoisyCell(), name="noisy_rnn"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match=r"'noisy_rnn' \(RNN\) has a recurrent cell that is not one of Keras'"):
        mcbridge.mc_predict(model, np.zeros((2, 5, 3), "float32"))


class _Block(keras.layers.Layer):
    """A custom layer whose randomness sits in a Keras sublayer."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(4)
        self.drop = keras.layers.Dropout(0.5)

    def call(self, x, training=False):
        return self.drop(self.dense(x), training=training)


def test_randomness_inside_a_custom_layer_is_refused(x_small):
    # Its dropout would run in inference mode, i.e. not at all: refused, not silently deterministic.
    with pytest.raises(ValueError, match=r"'block' \(_Block\) draws random numbers"):
        mcbridge.mc_predict(_head(_Block(name="block"), keras.layers.Dropout(0.5)), x_small)


def test_recurrent_layer_without_dropout_is_deterministic():
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4), keras.layers.Dropout(0.5),
                              keras.layers.Dense(2, activation="softmax")])
    result = mcbridge.mc_predict(model, np.ones((2, 5, 3), "float32"), n_samples=4, seed=0)
    assert result.samples.shape == (2, 2, 4)
    assert not registry.is_sampled(model.layers[0])


def test_inference_noise_layers_run_as_in_predict(x_small):
    # GaussianNoise / RandomFlip are identity in inference: computed once, in the prefix.
    model = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.RandomFlip(seed=1), keras.layers.GaussianNoise(1.0),
        keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax"),
    ])  # fmt: skip
    with pytest.raises(ValueError, match="no dropout layer"):
        mcbridge.mc_predict(model, x_small)
    model = _head(keras.layers.GaussianNoise(1.0), keras.layers.Dense(8), keras.layers.Dropout(1e-9))
    flat = mcbridge.mc_predict(model, x_small, n_samples=3, seed=0)
    # (rows of one batch may round differently: float32 tolerance)
    np.testing.assert_allclose(flat.samples, np.repeat(model.predict(x_small, verbose=0)[..., None], 3, 2),
                               rtol=1e-5, atol=1e-6)
    assert registry.entry_for(model.layers[1]).role == "inference"


def test_registry_says_how_each_layer_samples():
    spatial = registry.entry_for(keras.layers.SpatialDropout2D(0.1))
    assert spatial.role == "sampled" and "feature map" in spatial.samples and spatial.bit_mask
    assert spatial.switchable is mcbridge.MCSpatialDropout2D
    # mcbridge's own layers match the entry of the Keras class they extend.
    assert registry.entry_for(mcbridge.MCDropout(0.1)).cls is keras.layers.Dropout
    assert registry.entry_for(keras.layers.Dense(2)) is None
    assert not registry.owns_randomness(keras.layers.Dense(2))
    assert registry.owns_randomness(_CustomNoise())


def test_plan_is_a_frozen_value_and_the_model_gets_no_attributes(x_small):
    model = mcbridge.build_cnn(input_shape=(13, 15, 1), n_classes=3, filters=(4, 8), kernel_size=2,
                               dense_units=16, seed=0)
    before = {id(layer): dict(vars(layer)) for layer in iter_layers(model)}
    x = np.random.default_rng(0).random((3, 13, 15, 1), dtype=np.float32)
    mcbridge.mc_predict(model, x, n_samples=3, seed=0)
    for layer in iter_layers(model):
        assert not hasattr(layer, "live") and not hasattr(layer, "mask_layout")
        assert set(vars(layer)) == set(before[id(layer)])  # nothing written onto the user's layers
    layout = _sampler_for(model).layout
    with pytest.raises(dataclasses.FrozenInstanceError):
        layout.first = 0
    # 13x15 -> conv2 -> 12x14 -> [dropout] -> pool -> 6x7 -> conv2 -> 5x6 -> pool -> 2x3: the last
    # pool reads 4x6, the conv 5x7, the first pool 10x14: the dropout's input is cropped to it.
    assert layout.crop == ((12, 14), (10, 14)) and layout.pooled == (layout.first, 4) and layout.fused_head  # both dropouts pool
    assert layout == plan.layout_for(model)  # a value: the same model gives an equal layout
    chunks = plan.chunk_plan(10, 7, 4, row_bytes=100, budget=1000)
    assert (chunks.k, chunks.m, chunks.n_chunks) == (1, 7, 10)


def test_the_cache_does_not_keep_a_model_alive(x_small):
    import gc
    import weakref

    from mcbridge._engine.run import _SAMPLERS

    model = _head(mcbridge.layers.DropConnectDense(4, rate=0.5), keras.layers.Dropout(0.2))
    mcbridge.mc_predict(model, x_small, n_samples=2, seed=0)
    assert model in _SAMPLERS
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


def test_retracing_reports_are_dropped_for_the_engines_own_functions_only():
    """Each structure is traced once by design: TensorFlow's retracing report is dropped for
    the engine's compiled parts, and kept for everybody else's functions."""
    import logging

    from mcbridge._engine import run

    def record(function):
        message = f"5 out of the last 5 calls to {function} triggered tf.function retracing. Tracing is expensive"
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None)

    keep = run._PerStructureTraces().filter
    assert not keep(record("<function Sampler._suffix_body.<locals>.run at 0x1>"))
    assert not keep(record("<function _on_values.<locals>.run at 0x1>"))
    assert keep(record("<function TensorFlowTrainer.make_predict_function.<locals>.one_step at 0x1>"))
    assert keep(logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, "another warning", None, None))
