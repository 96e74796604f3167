import keras
import numpy as np
import pytest

import mcbridge
from mcbridge.layers import SWITCHABLE_FOR, is_dropout_layer, is_switchable, switchable_class

pytestmark = pytest.mark.numeric  # float results; run again with oneDNN capped at AVX2 (scripts/test.sh)

ALL_MC = [
    (mcbridge.MCDropout, dict(rate=0.5), (64, 32)),
    (mcbridge.MCSpatialDropout1D, dict(rate=0.5), (64, 8, 16)),
    (mcbridge.MCSpatialDropout2D, dict(rate=0.5), (64, 4, 4, 16)),
    (mcbridge.MCSpatialDropout3D, dict(rate=0.5), (64, 2, 4, 4, 16)),
    (mcbridge.MCGaussianDropout, dict(rate=0.5), (64, 32)),
    (mcbridge.MCAlphaDropout, dict(rate=0.5), (64, 32)),
]


@pytest.mark.parametrize("cls,kwargs,shape", ALL_MC)
def test_switch_controls_inference_and_training_always_drops(cls, kwargs, shape):
    layer = cls(**kwargs, seed=3)
    x = np.ones(shape, dtype="float32")
    assert np.array_equal(layer(x), x)  # off: identity in inference
    assert not np.array_equal(layer(x, training=True), x)  # training drops
    layer.mc_enabled = True
    assert not np.array_equal(layer(x), x)  # on: samples in inference
    assert not np.array_equal(layer(x, training=True), x)
    layer.mc_enabled = False
    assert np.array_equal(layer(x), x)


@pytest.mark.parametrize("cls,kwargs,shape", ALL_MC)
def test_is_a_subclass_of_the_keras_layer(cls, kwargs, shape):
    keras_cls = next(base for base, mc in SWITCHABLE_FOR.items() if mc is cls)
    layer = cls(**kwargs)
    assert isinstance(layer, keras_cls)
    assert is_switchable(layer) and is_dropout_layer(layer)
    assert switchable_class(keras_cls(**kwargs)) is cls


def test_dropout_rescales_kept_units_in_mc_mode():
    layer = mcbridge.MCDropout(0.25, seed=0, mc_enabled=True)
    out = keras.ops.convert_to_numpy(layer(np.ones((200, 500), "float32")))
    kept = out[out != 0]
    np.testing.assert_allclose(kept, 1 / 0.75, rtol=1e-6)
    assert abs((out == 0).mean() - 0.25) < 0.01
    assert abs(out.mean() - 1.0) < 0.01  # expectation preserved


def test_config_round_trip_keeps_switch_state():
    layer = mcbridge.MCDropout(0.3, noise_shape=(None, 1), mc_enabled=True)
    clone = mcbridge.MCDropout.from_config(layer.get_config())
    assert clone.rate == 0.3 and clone.mc_enabled and tuple(clone.noise_shape) == (None, 1)


def test_switch_is_not_trainable():
    layer = mcbridge.MCDropout(0.5)
    layer.build((None, 4))
    assert layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == 1


def test_switchable_class_rejects_other_layers():
    with pytest.raises(TypeError, match="not a supported dropout layer"):
        switchable_class(keras.layers.Dense(3))


@pytest.mark.parametrize("keras_cls,mc_cls", [(keras.layers.LSTM, mcbridge.MCLSTM),
                                              (keras.layers.GRU, mcbridge.MCGRU),
                                              (keras.layers.SimpleRNN, mcbridge.MCSimpleRNN)])  # fmt: skip
def test_recurrent_layers_count_as_dropout_only_with_a_rate(keras_cls, mc_cls):
    assert switchable_class(keras_cls(3, recurrent_dropout=0.1)) is mc_cls
    assert is_dropout_layer(keras_cls(3, dropout=0.1)) and is_dropout_layer(mc_cls(3, dropout=0.1))
    assert not is_dropout_layer(keras_cls(3))  # no rate: deterministic, nothing to switch
    with pytest.raises(TypeError, match="not a supported dropout layer"):
        switchable_class(keras_cls(3))


def test_dropconnect_layers_are_their_own_switchable_class():
    layer = mcbridge.DropConnectDense(3, rate=0.2)
    assert is_switchable(layer) and is_dropout_layer(layer) and switchable_class(layer) is mcbridge.DropConnectDense
    assert isinstance(mcbridge.DropConnectConv2D(2, 3), keras.layers.Conv2D)


def test_the_layers_switch_rule_agrees_with_the_engines_registry():
    """`mcbridge.layers` decides what is switchable without the engine; the registry builds on it."""
    from mcbridge._engine import registry
    from mcbridge.layers import is_dropout_layer, switchable_class

    candidates = [
        keras.layers.Dropout(0.5), keras.layers.SpatialDropout1D(0.2), keras.layers.SpatialDropout2D(0.3),
        keras.layers.SpatialDropout3D(0.3), keras.layers.GaussianDropout(0.2), keras.layers.AlphaDropout(0.1),
        keras.layers.LSTM(3, dropout=0.2), keras.layers.LSTM(3), keras.layers.GRU(3, recurrent_dropout=0.1),
        keras.layers.SimpleRNN(3), mcbridge.DropConnectDense(3, rate=0.2), mcbridge.MCDropout(0.4),
        keras.layers.Dense(3), keras.layers.GaussianNoise(0.1), keras.layers.MultiHeadAttention(2, 2, dropout=0.1),
    ]
    for layer in candidates:
        entry = registry.entry_for(layer)
        sampled = entry is not None and entry.switchable is not None and (entry.active is None or entry.active(layer))
        assert is_dropout_layer(layer) == sampled, layer
        if sampled:
            assert switchable_class(layer) is entry.switchable, layer
