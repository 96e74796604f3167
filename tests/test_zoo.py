"""The models users bring: dense outputs, several inputs and outputs, attention, text, recurrent cells, nested models.

Each model of the zoo is checked for its shapes, bit reproducibility,
independence from the chunking and, where the naive loop
`model(x, training=True)` is a valid reference (no BatchNormalization), for
agreement with it in distribution.
"""

import keras
import numpy as np
import pytest
from keras import layers as L

import mcbridge
from mcbridge._predict_model import _sampler_for

N = 6  # inputs per model


def _unet(drop):
    i = keras.Input((16, 16, 1))
    c1 = L.Conv2D(4, 3, padding="same", activation="relu")(i)
    c2 = L.Conv2D(8, 3, padding="same", activation="relu")(L.MaxPooling2D()(c1))
    u = L.UpSampling2D()(drop(c2))
    return keras.Model(i, L.Conv2D(3, 1, activation="softmax")(L.Concatenate()([u, c1])))


def _tagger():
    i = keras.Input((10,), dtype="int32")
    h = L.LSTM(8, return_sequences=True, dropout=0.2, recurrent_dropout=0.2)(L.Embedding(30, 8, mask_zero=True)(i))
    return keras.Model(i, L.Dense(5, activation="softmax")(L.Dropout(0.3)(h)))


def _two_inputs():
    a, b = keras.Input((8, 8, 1), name="image"), keras.Input((5,), name="table")
    f = L.Flatten()(L.Conv2D(4, 3, activation="relu")(a))
    h = L.Dropout(0.5)(L.Concatenate()([f, L.Dense(8, activation="relu")(b)]))
    return keras.Model([a, b], L.Dense(3, activation="softmax")(h))


def _two_outputs():
    i = keras.Input((6,))
    h = L.Dropout(0.3)(L.Dense(16, activation="relu")(i))
    return keras.Model(i, [L.Dense(4, activation="softmax", name="label")(h), L.Dense(2, name="size")(h)])


def _transformer(blocks, attention=lambda: L.MultiHeadAttention(2, 4, dropout=0.2)):
    i = keras.Input((10, 8))
    h = i
    for _ in range(blocks):
        a = attention()(h, h)
        h = L.LayerNormalization()(L.Add()([h, L.Dropout(0.1)(a)]))
        f = L.Dense(8)(L.Dense(16, activation="relu")(h))
        h = L.LayerNormalization()(L.Add()([h, L.Dropout(0.1)(f)]))
    return keras.Model(i, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(h)))


def _text(rnn):
    return keras.Sequential([keras.Input((10,), dtype="int32"), L.Embedding(30, 8, mask_zero=True), rnn,
                             L.Dense(2, activation="softmax")])


def _nested():
    features = keras.Sequential(
        [keras.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"), L.Dropout(0.3), L.Flatten()], name="features"
    )
    i = keras.Input((8, 8, 1))
    return keras.Model(i, L.Dense(3, activation="softmax")(L.Dense(8, activation="relu")(features(i))))


def _attention():
    q = keras.Input((6, 4))
    return keras.Model(q, L.Dense(2, activation="softmax")(L.Flatten()(L.Attention(dropout=0.3)([q, q]))))


def _residual_bn():
    i = keras.Input((8, 8, 2))
    h = L.BatchNormalization()(L.Conv2D(4, 3, padding="same")(i))
    h = L.SpatialDropout2D(0.3)(L.Add()([L.ReLU()(h), L.Conv2D(4, 1)(i)]))
    return keras.Model(i, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(h)))


ZOO = {
    "unet": lambda: _unet(L.Dropout(0.5)),
    "unet_spatial": lambda: _unet(L.SpatialDropout2D(0.3)),
    "sequence_tagger": _tagger,
    "image_and_table": _two_inputs,
    "class_and_regression_heads": _two_outputs,
    "transformer_block": lambda: _transformer(1),
    "transformer_encoder": lambda: _transformer(2),
    "text_lstm": lambda: _text(L.LSTM(8, dropout=0.2, recurrent_dropout=0.2)),
    "text_gru": lambda: _text(L.GRU(8, dropout=0.3)),
    "text_bidirectional": lambda: _text(L.Bidirectional(L.LSTM(6, dropout=0.3))),
    "text_rnn_cell": lambda: _text(L.RNN(L.LSTMCell(8, dropout=0.2, recurrent_dropout=0.2))),
    "text_stacked_cells": lambda: _text(L.RNN([L.GRUCell(6, dropout=0.3), L.SimpleRNNCell(6, recurrent_dropout=0.3)])),
    "grouped_query_attention": lambda: _transformer(1, lambda: L.GroupQueryAttention(4, 2, 1, dropout=0.2)),
    "conv_lstm": lambda: keras.Sequential([keras.Input((3, 6, 6, 1)),
                                           L.ConvLSTM2D(3, 3, padding="same", dropout=0.2, recurrent_dropout=0.2),
                                           L.Flatten(), L.Dense(3, activation="softmax")]),
    "nested_dropout": _nested,
    "conv1d": lambda: keras.Sequential([keras.Input((20, 2)), L.Conv1D(4, 3, activation="relu"), L.MaxPooling1D(),
                                        L.Dropout(0.3), L.Flatten(), L.Dense(3, activation="softmax")]),
    "keras_attention": _attention,
    "residual_batchnorm": _residual_bn,
    "tabular_regression": lambda: keras.Sequential([keras.Input((5,)), L.Dense(16, activation="relu"),
                                                    L.Dropout(0.2), L.Dense(2)]),
}
TASKS = {"class_and_regression_heads": ["classification", "regression"], "tabular_regression": "regression"}


def _inputs(model):
    rng = np.random.default_rng(0)
    xs = []
    for t in model.inputs:
        if "int" in str(t.dtype):
            a = rng.integers(1, 30, (N, *t.shape[1:])).astype("int32")
            a[:, 6:] = 0  # padding, masked by the Embedding
            a[0, 3:] = 0
        else:
            a = rng.random((N, *t.shape[1:])).astype("float32")
        xs.append(a)
    return xs[0] if len(xs) == 1 else xs


@pytest.fixture(scope="module")
def zoo():
    built = {}
    for name, make in ZOO.items():
        keras.utils.set_random_seed(1)
        built[name] = make()
    return built


def _results(r):
    return r if isinstance(r, list) else [r]


@pytest.mark.parametrize("name", list(ZOO))
def test_shapes_bits_and_chunking(zoo, name):
    model = zoo[name]
    x = _inputs(model)
    task = TASKS.get(name, "classification")
    a = mcbridge.mc_predict(model, x, n_samples=5, seed=3, task=task)
    b = mcbridge.mc_predict(model, x, n_samples=5, seed=3, task=task)
    c = mcbridge.mc_predict(model, x, n_samples=5, seed=3, task=task, batch_size=2)
    assert len(_results(a)) == len(model.outputs)
    for out, ra, rb, rc in zip(model.outputs, _results(a), _results(b), _results(c)):
        dims = tuple(out.shape[1:-1])
        assert ra.samples.shape == (N, *out.shape[1:], 5) and ra.samples.dtype == np.float32
        assert ra.mean.shape == (N, *out.shape[1:]) and ra.variance.shape == ra.mean.shape
        if ra.task == "classification":
            assert ra.predicted_class.shape == (N, *dims)
            for measure in (ra.predictive_entropy(), ra.mutual_information(), ra.variation_ratio()):
                assert measure.shape == (N, *dims) and np.all(np.isfinite(measure))
        np.testing.assert_array_equal(ra.samples, rb.samples)  # the same seed, the same bits
        np.testing.assert_allclose(rc.samples, ra.samples, rtol=1e-5, atol=1e-5)  # another chunking
        assert np.ptp(ra.samples, axis=-1).max() > 0  # the samples differ


def _naive(model, x, n_samples):
    """`model(x, training=True)` `n_samples` times: per output `(n_samples, n, ...)`.

    In one call on `x` tiled `n_samples` times: Keras draws every row's
    masks independently (element, feature-map, attention and recurrent
    dropout alike), so that is the naive loop's distribution.
    """
    tiled = keras.tree.map_structure(lambda a: np.concatenate([a] * n_samples), x)
    out = keras.tree.flatten(model(tiled, training=True))
    return [keras.ops.convert_to_numpy(o).reshape(n_samples, N, *o.shape[1:]) for o in out]


@pytest.mark.parametrize("name", [n for n in ZOO if n != "residual_batchnorm"])  # BatchNorm: training=True differs
def test_agrees_with_the_naive_loop_in_distribution(zoo, name):
    model = zoo[name]
    x = _inputs(model)
    s = 120
    results = _results(mcbridge.mc_predict(model, x, n_samples=s, task=TASKS.get(name, "classification")))
    for r, ref in zip(results, _naive(model, x, s)):
        ref = np.moveaxis(ref, 0, -1)  # (n, ..., samples)
        mc_var, ref_var = r.samples.var(axis=-1), ref.var(axis=-1)
        se = np.sqrt((mc_var + ref_var) / s)
        assert np.all(np.abs(r.samples.mean(axis=-1) - ref.mean(axis=-1)) <= 6 * se + 2e-4), name
        assert 0.7 < mc_var.mean() / ref_var.mean() < 1.4, name  # sampled as much as Keras samples


def test_unet_runs_its_encoder_and_skips_once_per_input(zoo):
    sampler = _sampler_for(zoo["unet"], any_shape=True)
    assert sampler.prefix is not None and len(sampler.suffix.inputs) == 2  # the bottleneck and the skip
    assert not any(isinstance(layer, L.MaxPooling2D) for layer in sampler.suffix.layers)


def test_split_and_full_replication_agree_on_a_general_graph(zoo):
    from mcbridge.predict import _mc_predict

    model = zoo["unet"]
    x = _inputs(model)
    fast = _mc_predict(model, x, 4, 64, 7, False, False, 2**28, split=True)
    full = _mc_predict(model, x, 4, 64, 7, False, False, 2**28, split=False)
    np.testing.assert_allclose(fast.samples, full.samples, rtol=1e-5, atol=1e-6)


def test_inputs_by_name_or_order_and_their_errors(zoo):
    model = zoo["image_and_table"]
    image, table = _inputs(model)
    by_order = mcbridge.mc_predict(model, [image, table], n_samples=3, seed=1)
    by_name = mcbridge.mc_predict(model, {"table": table, "image": image}, n_samples=3, seed=1)
    np.testing.assert_array_equal(by_order.samples, by_name.samples)
    with pytest.raises(ValueError, match=r"missing \['table'\]"):
        mcbridge.mc_predict(model, {"image": image}, n_samples=3)
    with pytest.raises(ValueError, match="same number of rows"):
        mcbridge.mc_predict(model, [image, table[:2]], n_samples=3)
    with pytest.raises(ValueError, match="has 2 inputs"):
        mcbridge.mc_predict(model, image, n_samples=3)


def test_one_task_per_output_and_its_errors(zoo):
    model = zoo["class_and_regression_heads"]
    x = _inputs(model)
    label, size = mcbridge.mc_predict(model, x, n_samples=3, task=["classification", "regression"])
    assert label.task == "classification" and size.task == "regression"
    with pytest.raises(ValueError, match="not probabilities"):  # the regression head as classes
        mcbridge.mc_predict(model, x, n_samples=3)
    with pytest.raises(ValueError, match=r"a list of 2 \(one per model output\)"):
        mcbridge.mc_predict(model, x, n_samples=3, task=["regression"])


def test_a_custom_loss_keras_cannot_load_does_not_matter(zoo):
    model = keras.models.clone_model(zoo["unet"])

    def pixel_loss(y_true, y_pred):  # defined here: not registered, not deserialisable
        return keras.ops.mean((y_true - y_pred) ** 2)

    model.compile(optimizer="adam", loss=pixel_loss)
    r = mcbridge.mc_predict(model, _inputs(model), n_samples=2, seed=0)
    assert r.samples.shape == (N, 16, 16, 3, 2)


def test_a_dataset_of_batches_is_an_input(zoo):
    import tensorflow as tf

    model = zoo["conv1d"]
    x = _inputs(model)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(N))).batch(4)
    np.testing.assert_array_equal(
        mcbridge.mc_predict(model, dataset, n_samples=3, seed=2).samples,
        mcbridge.mc_predict(model, x, n_samples=3, seed=2).samples,
    )


def _fully_convolutional(size):
    i = keras.Input((size, size, 1))
    h = L.Dropout(0.3)(L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(i))
    return keras.Model(i, L.Conv2D(3, 1, activation="softmax", name="c2")(h))


def test_a_model_built_on_inputs_of_any_size_predicts_each_size():
    keras.utils.set_random_seed(2)
    model = _fully_convolutional(None)  # output (batch, None, None, 3)
    rng = np.random.default_rng(0)
    for shape in ((16, 16, 1), (12, 20, 1)):
        x = rng.random((3, *shape)).astype("float32")
        r = mcbridge.mc_predict(model, x, n_samples=4, seed=5)
        assert r.samples.shape == (3, *shape[:2], 3, 4)
    fixed = _fully_convolutional(12)  # the same weights on a fixed-size model: the same bits
    fixed.set_weights(model.get_weights())
    x = rng.random((3, 12, 12, 1)).astype("float32")
    np.testing.assert_array_equal(mcbridge.mc_predict(fixed, x, n_samples=4, seed=5).samples,
                                  mcbridge.mc_predict(model, x, n_samples=4, seed=5).samples)
    for w in model.get_layer("c1").weights:  # trained in place: the views see it (c1 outputs 0 everywhere)
        w.assign(np.zeros(w.shape, "float32"))
    r = mcbridge.mc_predict(model, rng.random((2, 12, 20, 1)).astype("float32"), n_samples=2, seed=5)
    np.testing.assert_allclose(r.samples, np.broadcast_to(r.samples[:, :1, :1], r.samples.shape), atol=1e-6)
