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


# --------------------------------------------------------------------------
# variational recurrent dropout


def _identity_rnn(dropout=0.0, recurrent_dropout=0.0, units=64):
    """SimpleRNN with identity kernels, no bias, linear: h_t = x_t * m + h_{t-1} * r."""
    layer = keras.layers.SimpleRNN(
        units, activation=None, use_bias=False, return_sequences=True, dropout=dropout,
        recurrent_dropout=recurrent_dropout, kernel_initializer="identity",
        recurrent_initializer="identity" if recurrent_dropout else "zeros", seed=5,
    )  # fmt: skip
    model = keras.Sequential([keras.Input((6, units)), layer])
    return model, layer


def test_recurrent_input_mask_is_fixed_over_time_and_differs_between_rows():
    from mcbridge._engine import registry

    _, layer = _identity_rnn(dropout=0.5)
    state = keras.ops.convert_to_numpy(layer.cell.seed_generator.state).copy()
    copy = registry.sampling_copy(layer)
    out = keras.ops.convert_to_numpy(copy(np.ones((200, 6, 64), "float32")))  # (rows, time, units)
    assert np.all(out == out[:, :1, :])  # the same mask at every time step
    assert len({row.tobytes() for row in out[:, 0]}) == 200  # each row (replica) its own
    assert abs(np.mean(out == 0) - 0.5) < 0.02
    np.testing.assert_allclose(np.unique(out[out != 0]), [2.0])  # kept units scaled: mean preserved
    # The user's layer's random state is untouched.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.cell.seed_generator.state), state)


def test_recurrent_state_mask_is_fixed_over_time():
    from mcbridge._engine import registry

    _, layer = _identity_rnn(recurrent_dropout=0.5)
    x = np.zeros((300, 6, 64), "float32")
    x[:, 0] = 1.0  # h_1 = 1, then h_t = h_{t-1} * r: r^(t-1) with one fixed mask r
    out = keras.ops.convert_to_numpy(registry.sampling_copy(layer)(x))
    last = out[:, -1]
    np.testing.assert_allclose(np.unique(last), [0.0, 2.0**5])  # kept at every step, or dropped once for all
    # A mask drawn anew at each of the 5 steps would keep 1/32 of the units; one fixed mask keeps 1/2.
    assert abs(np.mean(last != 0) - 0.5) < 0.02


@pytest.mark.parametrize("cls", [mcbridge.layers.MCLSTM, mcbridge.layers.MCGRU, mcbridge.layers.MCSimpleRNN])
def test_recurrent_switch_off_is_deterministic_on_is_stochastic(cls, tmp_path):
    x = np.random.default_rng(0).random((3, 5, 4), dtype=np.float32)
    layer = cls(6, dropout=0.3, recurrent_dropout=0.3, seed=2)
    model = keras.Sequential([keras.Input((5, 4)), layer])
    base = model.predict(x, verbose=0)
    np.testing.assert_array_equal(base, model.predict(x, verbose=0))
    layer.mc_enabled = True
    assert not np.array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    # Keras-style contract: config round trip, output shape, save / load.
    clone = cls.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config() and clone.mc_enabled
    assert tuple(layer.compute_output_shape((3, 5, 4))) == (3, 6)
    model.save(tmp_path / "rnn.keras")
    loaded = keras.models.load_model(tmp_path / "rnn.keras", safe_mode=True)
    assert type(loaded.layers[0]) is cls and loaded.layers[0].mc_enabled
    loaded.layers[0].mc_enabled = False
    np.testing.assert_allclose(loaded.predict(x, verbose=0), base, rtol=1e-6)


def _lstm_classifier():
    return keras.Sequential([
        keras.Input((6, 3)), keras.layers.Dense(4), keras.layers.BatchNormalization(),
        keras.layers.LSTM(8, dropout=0.3, recurrent_dropout=0.3, seed=1),
        keras.layers.Dense(2, activation="softmax"),
    ])  # fmt: skip


def test_mc_predict_samples_recurrent_dropout_and_leaves_the_model_alone():
    model = _lstm_classifier()
    x = np.random.default_rng(0).random((4, 6, 3), dtype=np.float32)
    states = [v.numpy().copy() for v in model.variables]
    result = mcbridge.mc_predict(model, x, n_samples=10, seed=1)
    assert len({d.tobytes() for d in result.samples[0].T}) == 10
    np.testing.assert_array_equal(result.samples, mcbridge.mc_predict(model, x, n_samples=10, seed=1).samples)
    for a, b in zip(states, model.variables):
        np.testing.assert_array_equal(a, b.numpy())  # weights, BatchNorm statistics, random states
    # Switchable copy: same deterministic predictions, and MC mode samples with BatchNorm in inference.
    switchable = mcbridge.make_switchable(model)
    assert type(switchable.layers[2]) is mcbridge.layers.MCLSTM
    np.testing.assert_allclose(switchable.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    fast = mcbridge.mc_predict(model, x, n_samples=300, seed=3)
    with mcbridge.mc_dropout(switchable):  # one variational mask per row and sequence: one call for all draws
        slow = switchable(np.tile(x, (300, 1, 1))).numpy().reshape(300, x.shape[0], -1).transpose(1, 2, 0)
    se = np.sqrt((fast.variance + slow.var(axis=2, ddof=1)) / 300)
    assert np.all(np.abs(fast.mean - slow.mean(axis=2)) <= 5 * se + 1e-6)


# --------------------------------------------------------------------------
# spatial, Gaussian and alpha dropout through the registry


def _copy_of(layer, shape):
    from mcbridge._engine import registry

    keras.Sequential([keras.Input(shape[1:]), layer])  # built, as in a model
    assert registry.is_sampled(layer)
    return registry.sampling_copy(layer)


@pytest.mark.parametrize(
    "layer,shape,spatial_axes",
    [(keras.layers.SpatialDropout1D(0.5), (64, 6, 8), (1,)),
     (keras.layers.SpatialDropout3D(0.5), (64, 2, 3, 3, 8), (1, 2, 3))],
    ids=["1d", "3d"],
)  # fmt: skip
def test_spatial_dropout_drops_whole_feature_maps(layer, shape, spatial_axes):
    out = keras.ops.convert_to_numpy(_copy_of(layer, shape)(np.ones(shape, "float32")))
    assert np.all(out.min(axis=spatial_axes) == out.max(axis=spatial_axes))  # whole maps dropped together
    maps = shape[0] * shape[-1]  # independent Bernoulli(0.5) draws: 4.5 standard errors below
    assert abs(np.mean(out == 0) - 0.5) < 4.5 * np.sqrt(0.25 / maps)
    np.testing.assert_allclose(out.mean(), 1.0, atol=4.5 * 2 * np.sqrt(0.25 / maps))  # expectation preserved


def test_gaussian_dropout_samples_unit_mean_noise_of_the_right_variance():
    out = keras.ops.convert_to_numpy(_copy_of(keras.layers.GaussianDropout(0.2), (400, 500))(
        np.ones((400, 500), "float32")))  # fmt: skip
    np.testing.assert_allclose(out.mean(), 1.0, atol=0.005)
    np.testing.assert_allclose(out.var(), 0.2 / 0.8, rtol=0.02)


def test_alpha_dropout_keeps_mean_and_variance_of_standard_inputs():
    x = np.random.default_rng(0).normal(size=(400, 500)).astype("float32")
    out = keras.ops.convert_to_numpy(_copy_of(keras.layers.AlphaDropout(0.2), (400, 500))(x))
    assert np.mean(out != x) > 0.15  # it drops (to the negative saturation value, then rescales)
    np.testing.assert_allclose(out.mean(), 0.0, atol=0.02)
    np.testing.assert_allclose(out.var(), 1.0, atol=0.03)


@pytest.mark.parametrize(
    "layer,shape",
    [(DropConnectDense(5, rate=0.5, activation="relu"), (4, 3, 6)),
     (DropConnectConv2D(4, (3, 2), rate=0.5, strides=(1, 2), activation="relu"), (4, 7, 6, 3))],
    ids=["dense", "conv2d"],
)  # fmt: skip
def test_replica_copy_applies_replica_r_mask_to_rows_of_replica_r(layer, shape):
    from mcbridge._engine.sampling import ReplicaDropConnect

    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    layer(x)  # build
    m = 3
    copy = ReplicaDropConnect(layer, m)
    state = keras.ops.convert_to_numpy(copy.seed_generator.state).copy()
    out = keras.ops.convert_to_numpy(copy(np.concatenate([x] * m)))  # rows replica-major
    copy.seed_generator.state.assign(state)  # the same draws again, by hand
    kernels = keras.random.dropout(keras.ops.broadcast_to(layer.kernel[None], (m, *layer.kernel.shape)),
                                   0.5, seed=copy.seed_generator)  # fmt: skip
    expected = np.concatenate([keras.ops.convert_to_numpy(layer.apply_kernel(x, kernels[r])) for r in range(m)])
    # (a grouped convolution may sum in another order: float32 tolerance)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(out[: shape[0]], out[shape[0] : 2 * shape[0]])  # replicas differ
