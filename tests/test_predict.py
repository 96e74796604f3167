import keras
import numpy as np
import pytest

import mcbridge
from mcbridge._engine import graph, registry
from conftest import plain_keras_model

pytestmark = pytest.mark.numeric  # float results; run again with oneDNN capped at AVX2 (scripts/test.sh)


def test_output_contract(cnn, x_small):
    result = mcbridge.mc_predict(cnn, x_small, n_samples=7, batch_size=4, seed=0)
    assert isinstance(result, mcbridge.MCResult)
    assert result.samples.shape == (6, 3, 7) and result.samples.dtype == np.float32
    assert result.samples.flags["F_CONTIGUOUS"]  # R's memory order
    assert (result.n, result.n_classes, result.n_samples) == (6, 3, 7)
    np.testing.assert_allclose(result.samples.sum(axis=1), 1, atol=1e-5)
    assert result.mean.shape == result.variance.shape == result.std.shape == (6, 3)
    np.testing.assert_allclose(result.mean, result.samples.mean(axis=2), rtol=1e-6)
    np.testing.assert_allclose(result.variance, result.samples.var(axis=2, ddof=1), rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(result.std, np.sqrt(result.variance))
    assert result.predicted_class.shape == (6,)
    for name in ("predictive_entropy", "expected_entropy", "mutual_information", "variation_ratio"):
        np.testing.assert_allclose(getattr(result, name)(), getattr(mcbridge.metrics, name)(result.samples))


def test_variance_positive_with_dropout_zero_without(cnn, x_small):
    result = mcbridge.mc_predict(cnn, x_small, n_samples=20, seed=1)
    assert np.all(result.variance.max(axis=1) > 0)
    no_drop = mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8),
                                 dense_units=16, padding="same", dropout=(0, 0, 1e-9), seed=1)
    flat = mcbridge.mc_predict(no_drop, x_small, n_samples=10, seed=1)
    # The replicas of an input sit at different rows of one compiled batch, and
    # kernels may round rows differently (seen on AVX2-only CPUs: 8.9e-17). Zero
    # up to float32 resolution: a std within a few ulps of probabilities <= 1.
    np.testing.assert_array_less(flat.std, 4 * np.finfo(np.float32).eps)
    np.testing.assert_allclose(flat.mean, no_drop.predict(x_small, verbose=0), rtol=1e-5, atol=1e-6)


def test_cropping_what_valid_windows_ignore_keeps_the_predictions():
    # 13x15 -> conv2 -> 12x14 -> pool -> 6x7 -> conv2 -> 5x6 -> pool -> 2x3: the predictor
    # drops the rows and columns no window reads; with (almost) no dropout it must give predict().
    model = mcbridge.build_cnn(input_shape=(13, 15, 1), n_classes=3, filters=(4, 8), kernel_size=2,
                               dense_units=16, dropout=(1e-9, 1e-9, 1e-9), seed=2)
    x = np.random.default_rng(1).random((5, 13, 15, 1), dtype=np.float32)
    flat = mcbridge.mc_predict(model, x, n_samples=3, seed=1)
    np.testing.assert_allclose(flat.samples, np.repeat(model.predict(x, verbose=0)[..., None], 3, axis=2),
                               rtol=1e-5, atol=1e-6)


def test_every_replica_draws_its_own_mask(x_small):
    # One compiled call holds all samples of an input: they must differ.
    model = mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(8, 16), dense_units=64,
                               padding="same", seed=1)
    result = mcbridge.mc_predict(model, x_small[:1], n_samples=16, seed=2)
    draws = result.samples[0].T  # (samples, classes)
    assert len({d.tobytes() for d in draws}) == 16


def test_batch_shared_noise_shape_still_gives_independent_samples(x_small):
    model = plain_keras_model(batchnorm=False, dropout_layer=keras.layers.Dropout(0.5, noise_shape=(1, None)))
    result = mcbridge.mc_predict(model, x_small[:2], n_samples=12, seed=3)
    assert len({d.tobytes() for d in result.samples[0].T}) == 12


def test_mean_matches_slow_reference_loop(x_small):
    """Same distribution as the obvious loop of predict() calls with dropout on."""
    model = mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16,
                               padding="same", seed=4)
    n_samples = 400
    fast = mcbridge.mc_predict(model, x_small, n_samples=n_samples, seed=5)
    with mcbridge.mc_dropout(model):  # Keras' own dropout draws iid masks per row: one call for all draws
        tiled = model(np.tile(x_small, (n_samples, 1, 1, 1))).numpy()
    slow = tiled.reshape(n_samples, *x_small.shape[:1], -1).transpose(1, 2, 0)  # (n, classes, draws)
    # Difference of two independent means of n_samples draws: 5 standard errors.
    se = np.sqrt((fast.variance + slow.var(axis=2, ddof=1)) / n_samples)
    assert np.all(np.abs(fast.mean - slow.mean(axis=2)) <= 5 * se + 1e-6)
    np.testing.assert_allclose(fast.variance.mean(), slow.var(axis=2, ddof=1).mean(), rtol=0.2)


def _dropout_first_cropped():
    # The first layer samples; the last pool reads 6 of 8 rows, so the input is cropped to 7.
    return keras.Sequential([
        keras.Input((9, 9, 2)), keras.layers.Dropout(0.3), keras.layers.Conv2D(3, 2),
        keras.layers.SpatialDropout2D(0.3), keras.layers.MaxPooling2D(3), keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])  # fmt: skip


def _functional_residual():
    # Not a chain: the functional split (prefix up to the first dropout's input).
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    d = keras.layers.Dropout(0.3)(h)
    h = keras.layers.Add()([keras.layers.Conv2D(4, 3, padding="same")(d), d])
    h = keras.layers.Flatten()(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))


def _dropconnect_residual():
    # Per-replica weight masks in a general graph (the suffix is built for each replica count).
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    d = mcbridge.layers.DropConnectConv2D(4, 3, rate=0.3, padding="same", seed=1)(h)
    h = keras.layers.Flatten()(keras.layers.Add()([h, d]))
    h = mcbridge.layers.DropConnectDense(8, rate=0.5, seed=2)(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))


def _functional_two_dropouts():
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dropout(0.3)(h)
    h = keras.layers.Dense(16, activation="relu")(h)
    h = keras.layers.GaussianDropout(0.2)(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))


@pytest.mark.parametrize(
    "make",
    [
        lambda: mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16,
                                   padding="same", seed=6),
        lambda: mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=0,
                                   dropout=(0, 0, 0.5), padding="same", seed=6),
        lambda: mcbridge.build_cnn(input_shape=(13, 15, 1), n_classes=3, filters=(4, 8), kernel_size=2,
                                   dense_units=16, seed=6),
        _dropout_first_cropped,
        _functional_two_dropouts,
        _functional_residual,
        _dropconnect_residual,
        lambda: keras.Sequential([keras.Input((6, 3)), keras.layers.Dense(4),
                                  keras.layers.GRU(5, dropout=0.3, recurrent_dropout=0.2, seed=1),
                                  keras.layers.Dense(3, activation="softmax")]),
    ],
    ids=["seed-cnn", "head-only-dropout", "valid-odd-sizes", "dropout-first-cropped", "functional-chain",
         "functional-residual", "dropconnect-residual", "recurrent"],
)
def test_prefix_split_is_exact(make):
    """Running the deterministic prefix once gives what full replication gives, for the same masks."""
    from mcbridge.predict import _mc_predict

    model = make()
    x = np.random.default_rng(0).random((5, *model.inputs[0].shape[1:]), dtype=np.float32)
    args = dict(n_samples=6, batch_size=128, seed=7, from_logits=False, progress=False,
                memory_budget=2**40)
    split = _mc_predict(model, x, split=True, **args)
    full = _mc_predict(model, x, split=False, **args)
    # Same masks, but the prefix runs on k rows here and on k * m rows there:
    # kernels may block (and so sum) a batch differently by its size and the
    # CPU's vector width. Probabilities <= 1: 16 float32 ulps of 1.0.
    tol = 16 * np.finfo(np.float32).eps
    np.testing.assert_allclose(split.samples, full.samples, rtol=tol, atol=tol)
    assert np.all(split.variance.max(axis=1) > 0)


def test_functional_chain_samples_like_its_sequential_twin():
    """The same layers as a functional chain get the same (cropped, fused) sampling path."""
    seq = mcbridge.build_cnn(input_shape=(13, 15, 1), n_classes=3, filters=(4, 8), kernel_size=2,
                             dense_units=16, seed=3)
    inputs = keras.Input((13, 15, 1))
    h = inputs
    for layer in seq.layers:
        h = layer(h)
    chain = keras.Model(inputs, h)
    x = np.random.default_rng(2).random((5, 13, 15, 1), dtype=np.float32)
    a = mcbridge.mc_predict(seq, x, n_samples=6, seed=4)
    b = mcbridge.mc_predict(chain, x, n_samples=6, seed=4)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert np.all(a.variance.max(axis=1) > 0)


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.25, 0.5, 0.75])
def test_sampling_masks_drop_at_the_rate_and_rescale(rate):
    inputs = keras.Input((1000,))
    model = keras.Model(inputs, keras.layers.Dropout(rate)(inputs))
    view = graph.rebuild(model, registry.sampling_copy)
    out = keras.ops.convert_to_numpy(view(np.ones((1000, 1000), "float32"), training=False))
    dropped = np.mean(out == 0)
    assert abs(dropped - rate) < 5 * np.sqrt(rate * (1 - rate) / out.size)
    np.testing.assert_array_equal(np.unique(out[out != 0]), [np.float32(1 / (1 - rate))])


def test_spatial_dropout_masks_whole_channels_per_replica():
    inputs = keras.Input((4, 4, 8))
    h = keras.layers.SpatialDropout2D(0.5)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(h)))
    view = graph.rebuild(model, registry.sampling_copy)
    drop = next(l for l in view.layers if mcbridge.layers.is_dropout_layer(l))
    out = keras.ops.convert_to_numpy(drop(np.ones((64, 4, 4, 8), "float32")))
    per_channel = out.reshape(64, 16, 8)
    assert np.all(per_channel.min(axis=1) == per_channel.max(axis=1))  # constant over height x width
    assert len({m.tobytes() for m in per_channel[:, 0, :]}) > 32  # replicas differ


def test_seed_reproducibility(cnn, x_small):
    a = mcbridge.mc_predict(cnn, x_small, n_samples=5, seed=11)
    b = mcbridge.mc_predict(cnn, x_small, n_samples=5, seed=11)
    c = mcbridge.mc_predict(cnn, x_small, n_samples=5, seed=12)
    d = mcbridge.mc_predict(cnn, x_small, n_samples=5)
    e = mcbridge.mc_predict(cnn, x_small, n_samples=5)
    assert np.array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)
    assert not np.array_equal(d.samples, e.samples)


def test_chunking_and_memory_budget_do_not_change_samples(cnn, x_small):
    small = mcbridge.mc_predict(cnn, x_small, n_samples=9, batch_size=1, seed=3, memory_budget=10_000)
    big = mcbridge.mc_predict(cnn, x_small, n_samples=9, batch_size=512, seed=3)
    assert small.samples.shape == big.samples.shape == (6, 3, 9)
    # Same masks (keyed by seed, input and sample); the values agree up to
    # float32 rounding, as batch shapes change the order of the sums.
    np.testing.assert_allclose(small.samples, big.samples, rtol=0, atol=1e-5)
    assert np.all(small.variance.max(axis=1) > 0)


def _alpha_and_spatial():
    inputs = keras.Input((8, 8, 2))
    h = keras.layers.SpatialDropout2D(0.3)(inputs)
    h = keras.layers.Conv2D(4, 3, activation="selu")(h)
    h = keras.layers.AlphaDropout(0.2)(keras.layers.Flatten()(h))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))


@pytest.mark.parametrize(
    "make",
    [
        lambda: mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16,
                                   padding="same", seed=6),
        lambda: mcbridge.build_cnn(input_shape=(13, 15, 1), n_classes=3, filters=(4, 8), kernel_size=2,
                                   dense_units=16, seed=6),
        _dropout_first_cropped,
        _functional_two_dropouts,
        _dropconnect_residual,
        _alpha_and_spatial,
        lambda: keras.Sequential([keras.Input((6, 3)), keras.layers.Dense(4),
                                  keras.layers.LSTM(5, dropout=0.3, recurrent_dropout=0.2, seed=1),
                                  keras.layers.Dense(3, activation="softmax")]),
    ],
    ids=["seed-cnn", "valid-odd-sizes", "dropout-first-cropped", "gaussian", "dropconnect", "alpha-spatial",
         "recurrent"],
)
def test_samples_depend_on_seed_and_input_key_only(make):
    """Input i's samples: the same whatever the batch size, memory budget or other inputs."""
    from mcbridge._engine.plan import chunk_plan
    from mcbridge._engine.run import run_chunks
    from mcbridge.predict import _sampler_for

    model = make()
    x = np.random.default_rng(0).random((7, *model.inputs[0].shape[1:]), dtype=np.float32)
    ref = mcbridge.mc_predict(model, x, n_samples=10, seed=5).samples
    assert np.all(ref.var(axis=-1).max(axis=1) > 0)
    # float32 tolerance: different batch shapes sum in a different order.
    close = dict(rtol=0, atol=1e-5)
    for batch_size, budget in [(1, 2**30), (3, 2**30), (2, 1)]:  # budget 1: one sample per call
        other = mcbridge.mc_predict(model, x, n_samples=10, seed=5, batch_size=batch_size,
                                    memory_budget=budget).samples
        np.testing.assert_allclose(other, ref, **close)
    # Appending inputs leaves the first ones' samples alone; fewer samples are a prefix.
    head = mcbridge.mc_predict(model, x[:3], n_samples=4, seed=5).samples
    np.testing.assert_allclose(head, ref[:3, :, :4], **close)
    # Reordered (and subset) inputs with their keys: the same samples per key.
    sampler = _sampler_for(model)
    order = np.array([6, 2, 4, 0])
    chunks = chunk_plan(len(order), 10, 2, sampler.row_bytes, 2**30)
    moved = run_chunks(sampler, chunks, x[order], 5, False, keys=order)
    np.testing.assert_allclose(moved, ref[order], **close)
    assert not np.allclose(mcbridge.mc_predict(model, x, n_samples=10, seed=6).samples, ref)


def test_model_is_left_exactly_as_it_was(plain_model, x_small):
    plain_model.fit(x_small * 3, np.array([0, 1, 2, 0, 1, 2]), epochs=1, verbose=0)
    weights = [w.copy() for w in plain_model.get_weights()]
    states = [v.numpy().copy() for v in plain_model.variables]
    det = plain_model.predict(x_small, verbose=0)
    mcbridge.mc_predict(plain_model, x_small * 10, n_samples=8, seed=0)
    for a, b in zip(weights, plain_model.get_weights()):
        np.testing.assert_array_equal(a, b)  # BatchNorm moving statistics included
    for a, b in zip(states, plain_model.variables):
        np.testing.assert_array_equal(a, b.numpy())  # random states too
    np.testing.assert_array_equal(plain_model.predict(x_small, verbose=0), det)


def test_switch_state_is_left_alone(cnn, x_small):
    mcbridge.mc_predict(cnn, x_small, n_samples=3)
    assert not mcbridge.mc_dropout_enabled(cnn)
    mcbridge.set_mc_dropout(cnn, True)
    mcbridge.mc_predict(cnn, x_small, n_samples=3)
    assert mcbridge.mc_dropout_enabled(cnn)


def test_from_logits_applies_softmax(x_small):
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Dropout(0.3)(keras.layers.Flatten()(inputs))
    logits = keras.layers.Dense(3)(h)
    model = keras.Model(inputs, logits)
    with pytest.raises(ValueError, match="from_logits=True"):
        mcbridge.mc_predict(model, x_small, n_samples=3)
    result = mcbridge.mc_predict(model, x_small, n_samples=3, from_logits=True, seed=0)
    np.testing.assert_allclose(result.samples.sum(axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("name,value,error", [("n_samples", 0, ValueError), ("n_samples", -3, ValueError),
                                              ("n_samples", 2.5, TypeError), ("batch_size", 0, ValueError),
                                              ("batch_size", "128", TypeError), ("n_samples", True, TypeError)])
def test_bad_counts(cnn, x_small, name, value, error):  # TypeError for a wrong type (mcbridge._checks)
    with pytest.raises(error, match=f"`{name}`.*positive integer.*Received: {name}="):
        mcbridge.mc_predict(cnn, x_small, **{name: value})


def test_bad_inputs(cnn, x_small):
    with pytest.raises(ValueError, match=r"x\[\.\.\., None\]"):
        mcbridge.mc_predict(cnn, x_small[..., 0])
    with pytest.raises(ValueError, match=r"shape \(n, 8, 8, 1\)"):
        mcbridge.mc_predict(cnn, np.zeros((2, 9, 8, 1), "float32"))
    assert mcbridge.mc_predict(cnn, np.zeros((0, 8, 8, 1), "float32"), n_samples=4).samples.shape == (0, 3, 4)
    bad = x_small.copy()
    bad[1, 2, 3, 0] = np.nan
    bad[2, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="2 NaN or infinite"):
        mcbridge.mc_predict(cnn, bad)
    with pytest.raises(TypeError, match="numeric"):
        mcbridge.mc_predict(cnn, np.array([["a"]]))
    with pytest.raises(ValueError, match="seed"):
        mcbridge.mc_predict(cnn, x_small, seed=-1)
    with pytest.raises(TypeError, match="keras.Model"):
        mcbridge.mc_predict("model", x_small)


def test_model_without_dropout_is_rejected(x_small):
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    with pytest.raises(ValueError, match="no dropout layer"):
        mcbridge.mc_predict(model, x_small)


def test_output_of_unknown_size_is_rejected_with_the_way_out():
    # (Inputs of unknown size are fine: test_zoo. This output's size does not follow from the input's.)
    inputs = keras.Input((4,))
    out = keras.layers.Lambda(lambda t: keras.ops.reshape(t, (-1, 2, 2)), output_shape=(None, 2))(
        keras.layers.Dropout(0.5)(inputs))
    with pytest.raises(ValueError, match=r"axes of unknown size.*does not follow.*output_shape="):
        mcbridge.mc_predict(keras.Model(inputs, out), np.zeros((2, 4), "float32"), task="regression")


def test_saved_model_round_trip_keeps_switch_and_samples(cnn, x_small, tmp_path):
    path = tmp_path / "model.keras"
    cnn.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded.layers[1], mcbridge.MCDropout)
    np.testing.assert_array_equal(loaded.predict(x_small, verbose=0), cnn.predict(x_small, verbose=0))
    mcbridge.set_mc_dropout(loaded, True)
    assert not np.array_equal(loaded.predict(x_small, verbose=0), loaded.predict(x_small, verbose=0))
    a = mcbridge.mc_predict(cnn, x_small, n_samples=4, seed=9)
    b = mcbridge.mc_predict(loaded, x_small, n_samples=4, seed=9)
    np.testing.assert_array_equal(a.samples, b.samples)


def test_mcresult_from_any_array():
    r = mcbridge.MCResult(np.full((2, 4, 1), 0.25))
    assert r.samples.dtype == np.float32
    assert np.all(np.isnan(r.variance))  # one sample: undefined, as R's var()
    with pytest.raises(ValueError, match=r"\(n, classes, samples\)"):
        mcbridge.MCResult(np.zeros((2, 4)))


def _regression_model(outputs=2):
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(inputs))
    h = keras.layers.Dropout(0.3)(h)
    return keras.Model(inputs, keras.layers.Dense(outputs)(h))  # real-valued outputs


def test_regression_task_returns_real_valued_samples(x_small):
    model = _regression_model()
    with pytest.raises(ValueError, match=r'from_logits=True.*task="regression"'):
        mcbridge.mc_predict(model, x_small, n_samples=3)
    result = mcbridge.mc_predict(model, x_small, n_samples=9, seed=1, task="regression")
    assert result.task == "regression" and result.samples.shape == (6, 2, 9)
    assert result.samples.flags["F_CONTIGUOUS"]
    assert np.all(result.std > 0)
    with pytest.raises(ValueError, match="task='regression'"):
        result.predictive_entropy()
    with pytest.raises(ValueError, match="heteroscedastic=True"):
        result.aleatoric_variance  # noqa: B018  (no noise head)
    # Same seed, same masks: the regression samples are the classifier path's raw outputs.
    again = mcbridge.mc_predict(model, x_small, n_samples=9, seed=1, task="regression")
    np.testing.assert_array_equal(result.samples, again.samples)


def test_heteroscedastic_regression_splits_the_variance(x_small):
    model = _regression_model(outputs=4)  # 2 means, then 2 log-variances
    raw = mcbridge.mc_predict(model, x_small, n_samples=8, seed=2, task="regression")
    het = mcbridge.mc_predict(model, x_small, n_samples=8, seed=2, task="regression", heteroscedastic=True)
    assert het.samples.shape == het.noise_variance.shape == (6, 2, 8)
    np.testing.assert_array_equal(het.samples, raw.samples[:, :2])
    np.testing.assert_array_equal(het.noise_variance, np.exp(raw.samples[:, 2:]))
    np.testing.assert_allclose(het.aleatoric_variance, np.exp(raw.samples[:, 2:]).mean(axis=2), rtol=1e-6)
    np.testing.assert_array_equal(het.epistemic_variance, het.variance)
    np.testing.assert_allclose(het.predictive_variance, het.variance + het.aleatoric_variance)
    np.testing.assert_allclose(het.predictive_std**2, het.predictive_variance)
    assert np.all(het.predictive_variance > het.epistemic_variance)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(task="clustering"), ValueError, "`task`.*Received: task='clustering'"),
        (dict(task="regression", from_logits=True), ValueError, "`from_logits`.*regression"),
        (dict(heteroscedastic=True), ValueError, "`heteroscedastic`.*task='regression'"),
        (dict(task="regression", heteroscedastic="yes"), TypeError, "`heteroscedastic`"),
    ],
)
def test_bad_task_arguments(x_small, kwargs, error, match):
    with pytest.raises(error, match=match):
        mcbridge.mc_predict(_regression_model(), x_small, n_samples=2, **kwargs)


def test_heteroscedastic_needs_an_even_output(x_small):
    with pytest.raises(ValueError, match=r"\(batch, 3\).*even"):
        mcbridge.mc_predict(_regression_model(3), x_small, n_samples=2, task="regression", heteroscedastic=True)


def test_mcresult_noise_variance_is_checked():
    samples = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match="`noise_variance`"):
        mcbridge.MCResult(samples, task="regression", noise_variance=np.ones((2, 3, 5)))
    with pytest.raises(ValueError, match="`noise_variance`"):
        mcbridge.MCResult(samples, noise_variance=np.ones((2, 3, 4)))  # classification
    r = mcbridge.MCResult(samples, task="regression", noise_variance=np.full((2, 3, 4), 2.0))
    np.testing.assert_array_equal(r.predictive_variance, np.full((2, 3), 2.0))


def _lstm_model():
    inputs = keras.Input((5, 3))
    h = keras.layers.LSTM(6, dropout=0.3, recurrent_dropout=0.3)(inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Dropout(0.4)(h))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("make,shape", [
    (lambda: mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16, padding="same", seed=3),
     (8, 8, 1)),
    (_lstm_model, (5, 3)),
], ids=["cnn", "lstm"])
def test_concurrent_calls_give_the_bits_of_sequential_ones(make, shape):
    """Six threads on one model (a web service's pool, a notebook's background
    thread): per-call state is an argument of the compiled calls, so each call
    gives exactly the bits it gives alone, whether it traces or not."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(4)
    xs = [rng.random((5 + i, *shape), dtype=np.float32) for i in range(6)]
    model = make()  # fresh: the first calls trace concurrently

    def call(i):
        return mcbridge.mc_predict(model, xs[i], n_samples=9, seed=i, batch_size=8).samples

    for _ in range(2):  # tracing, then warm
        with ThreadPoolExecutor(6) as pool:
            together = list(pool.map(call, range(6)))
        for i in range(6):
            assert together[i].tobytes() == call(i).tobytes(), f"call {i} differs when run concurrently"


def test_nothing_is_kept_per_model():
    """Many models of one architecture (a hyperparameter search, an ensemble loop):
    each is freed after its call, and the compiled parts are shared, one per
    structure, not one per model."""
    import gc
    import weakref

    from mcbridge._engine import run

    x = np.random.default_rng(5).random((4, 8, 8, 1), dtype=np.float32)

    def one():
        model = mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16,
                                   padding="same", dropout=(0.1, 0.2, 0.3))
        mcbridge.mc_predict(model, x, n_samples=3, seed=0)
        return weakref.ref(model)

    one()
    shared = len(run._SHARED)
    refs = [one() for _ in range(4)]
    gc.collect()
    assert all(ref() is None for ref in refs)  # no cache keeps a model alive
    assert len(run._SHARED) == shared  # no compiled part per model


def test_models_of_one_structure_share_compiled_parts_but_not_weights(x_small):
    """The shared compiled suffix runs on each model's own weights."""
    def make(seed):
        return mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16,
                                  padding="same", dropout=(1e-9, 1e-9, 1e-9), seed=seed)

    a, b = make(1), make(2)
    for model in (a, b, a):
        flat = mcbridge.mc_predict(model, x_small, n_samples=2, seed=1).samples[..., 0]
        np.testing.assert_allclose(flat, model.predict(x_small, verbose=0), rtol=1e-5, atol=1e-6)
