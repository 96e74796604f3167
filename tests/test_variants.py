"""Dropout variants: DropConnect layers and their MC sampling."""

import keras
import numpy as np
import pytest

import mcbridge
from mcbridge.layers import DropConnectConv2D, DropConnectDense


def _ones_dense(rate, **kwargs):
    return DropConnectDense(1, rate=rate, use_bias=False, kernel_initializer="ones", seed=3, **kwargs)


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_dropconnect_drops_weights_at_the_rate_and_keeps_the_expectation(rate):
    layer = _ones_dense(rate)
    layer.build((None, 2000))
    kernel = keras.ops.convert_to_numpy(layer.dropped_kernel())
    dropped = np.mean(kernel == 0)
    assert abs(dropped - rate) < 5 * np.sqrt(rate * (1 - rate) / kernel.size)
    np.testing.assert_allclose(np.unique(kernel[kernel != 0]), [1 / (1 - rate)], rtol=1e-6)
    # Output of ones through a kernel of ones: expected 2000 whatever the rate.
    outs = [float(keras.ops.convert_to_numpy(layer(np.ones((1, 2000), "float32"), training=True))[0, 0])
            for _ in range(50)]  # fmt: skip
    se = np.sqrt(2000 * rate / (1 - rate) / 50)  # std of one draw: sqrt(n p / (1 - p))
    assert abs(np.mean(outs) - 2000) < 5 * se


def test_dropconnect_one_weight_mask_per_call_shared_by_the_batch():
    layer = DropConnectDense(8, rate=0.5, seed=1, mc_enabled=True)
    out = keras.ops.convert_to_numpy(layer(np.ones((4, 16), "float32")))
    # The same weights for every row (the weights are dropped, not the units) ...
    assert all(np.array_equal(out[0], row) for row in out)
    # ... and different weights on the next call.
    assert not np.array_equal(out, keras.ops.convert_to_numpy(layer(np.ones((4, 16), "float32"))))


@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda **kw: DropConnectDense(5, rate=0.4, seed=2, **kw), (3, 7)),
        (lambda **kw: DropConnectConv2D(3, 2, rate=0.4, seed=2, padding="same", **kw), (2, 5, 5, 2)),
    ],
    ids=["dense", "conv2d"],
)
def test_dropconnect_off_is_the_plain_layer_on_is_stochastic(make, shape):
    layer = make()
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    y = keras.ops.convert_to_numpy(layer(x))
    plain_cls = keras.layers.Dense if isinstance(layer, keras.layers.Dense) else keras.layers.Conv2D
    config = {k: v for k, v in layer.get_config().items() if k not in ("rate", "seed", "mc_enabled")}
    plain = plain_cls.from_config(config)
    plain.build(shape)
    plain.set_weights(layer.get_weights()[:2])  # kernel, bias (not the switch)
    np.testing.assert_array_equal(y, keras.ops.convert_to_numpy(plain(x)))  # off: exactly the Keras layer
    np.testing.assert_array_equal(y, keras.ops.convert_to_numpy(layer(x)))  # deterministic
    assert not np.array_equal(y, keras.ops.convert_to_numpy(layer(x, training=True)))  # training drops
    layer.mc_enabled = True
    assert not np.array_equal(keras.ops.convert_to_numpy(layer(x)), keras.ops.convert_to_numpy(layer(x)))


def test_dropconnect_switch_leaves_batchnorm_in_inference_mode():
    x = np.random.default_rng(1).normal(3.0, 2.0, (8, 6)).astype("float32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.BatchNormalization(),
                              DropConnectDense(4, rate=0.0, mc_enabled=True)])  # fmt: skip
    bn, dense = model.layers
    expected = keras.ops.convert_to_numpy(dense(bn(x, training=False)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(bn.moving_mean), np.zeros(6))


@pytest.mark.parametrize(
    "layer,shape",
    [(DropConnectDense(5, rate=0.3, seed=4, activation="relu"), (None, 3, 7)),
     (DropConnectConv2D(3, (2, 3), rate=0.3, seed=4, strides=2), (None, 9, 8, 2))],
    ids=["dense", "conv2d"],
)  # fmt: skip
def test_dropconnect_keras_layer_contract(layer, shape, tmp_path):
    layer.mc_enabled = True
    clone = type(layer).from_config(layer.get_config())
    assert clone.rate == 0.3 and clone.seed == 4 and clone.mc_enabled
    assert clone.get_config() == layer.get_config()
    out = layer(np.ones((2, *shape[1:]), "float32"))
    assert tuple(layer.compute_output_shape((2, *shape[1:]))) == tuple(out.shape)
    model = keras.Sequential([keras.Input(shape[1:]), layer])
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert type(loaded.layers[0]) is type(layer) and loaded.layers[0].mc_enabled
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    loaded.layers[0].mc_enabled = False
    model.layers[0].mc_enabled = False
    x = np.random.default_rng(0).random((2, *shape[1:]), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_dropconnect_rate_is_checked():
    with pytest.raises(ValueError, match=r"`rate`.*Received: rate=1"):
        DropConnectDense(3, rate=1)


def _dropconnect_model():
    return keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
        DropConnectConv2D(4, 3, rate=0.3, seed=1), keras.layers.Flatten(),
        DropConnectDense(16, rate=0.5, activation="relu"), keras.layers.Dense(3, activation="softmax"),
    ])  # fmt: skip


def test_mc_predict_draws_one_weight_mask_per_replica(x_small):
    model = _dropconnect_model()
    before = [w.copy() for w in model.get_weights()]
    result = mcbridge.mc_predict(model, x_small, n_samples=8, seed=1)
    assert len({d.tobytes() for d in result.samples[0].T}) == 8  # replicas differ
    again = mcbridge.mc_predict(model, x_small, n_samples=8, seed=1)
    np.testing.assert_array_equal(result.samples, again.samples)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not mcbridge.mc_dropout_enabled(model)
    # In distribution, the mean is that of the obvious loop with the switch on.
    fast = mcbridge.mc_predict(model, x_small, n_samples=300, seed=2)
    with mcbridge.mc_dropout(model):
        slow = np.stack([model(x_small).numpy() for _ in range(300)], axis=2)
    se = np.sqrt((fast.variance + slow.var(axis=2, ddof=1)) / 300)
    assert np.all(np.abs(fast.mean - slow.mean(axis=2)) <= 5 * se + 1e-6)


def test_dropconnect_model_is_switchable_and_converts_with_its_weights(x_small):
    inputs = keras.Input((8, 8, 1))
    h = DropConnectDense(6, rate=0.5)(keras.layers.Flatten()(inputs))
    h = keras.layers.Dropout(0.2)(h)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))
    switchable = mcbridge.make_switchable(model)
    np.testing.assert_array_equal(switchable.predict(x_small, verbose=0), model.predict(x_small, verbose=0))
    mcbridge.set_mc_dropout(switchable, True)
    assert not np.array_equal(switchable.predict(x_small, verbose=0), switchable.predict(x_small, verbose=0))
