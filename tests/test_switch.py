import keras
import numpy as np
import pytest

import mcbridge
from conftest import plain_keras_model

pytestmark = pytest.mark.numeric  # float results; run again with oneDNN capped at AVX2 (scripts/test.sh)


def _differs(a, b):
    return not np.array_equal(np.asarray(a), np.asarray(b))


def test_predict_toggles_after_first_compiled_predict(cnn, x_small):
    # First predict() compiles and caches the predict function with MC off.
    a, b = cnn.predict(x_small, verbose=0), cnn.predict(x_small, verbose=0)
    assert np.array_equal(a, b)
    mcbridge.set_mc_dropout(cnn, True)
    assert mcbridge.mc_dropout_enabled(cnn)
    assert _differs(cnn.predict(x_small, verbose=0), cnn.predict(x_small, verbose=0))
    mcbridge.set_mc_dropout(cnn, False)
    assert not mcbridge.mc_dropout_enabled(cnn)
    np.testing.assert_array_equal(cnn.predict(x_small, verbose=0), a)


def test_model_call_follows_switch(cnn, x_small):
    assert np.array_equal(cnn(x_small), cnn(x_small))
    mcbridge.set_mc_dropout(cnn, True)
    assert _differs(cnn(x_small), cnn(x_small))


def test_user_tf_function_follows_switch(cnn, x_small):
    import tensorflow as tf

    f = tf.function(lambda x: cnn(x, training=False))
    first = f(x_small)
    mcbridge.set_mc_dropout(cnn, True)
    assert _differs(f(x_small), f(x_small))
    mcbridge.set_mc_dropout(cnn, False)
    np.testing.assert_array_equal(f(x_small), first)


def test_context_manager_restores_state(cnn, x_small):
    with mcbridge.mc_dropout(cnn) as m:
        assert m is cnn and mcbridge.mc_dropout_enabled(cnn)
        assert _differs(cnn.predict(x_small, verbose=0), cnn.predict(x_small, verbose=0))
    assert not mcbridge.mc_dropout_enabled(cnn)
    mcbridge.set_mc_dropout(cnn, True)
    with pytest.raises(RuntimeError):
        with mcbridge.mc_dropout(cnn, enabled=False):
            assert not mcbridge.mc_dropout_enabled(cnn)
            raise RuntimeError("boom")
    assert mcbridge.mc_dropout_enabled(cnn)


@pytest.mark.parametrize("mc", [False, True])
def test_training_drops_whatever_the_switch(cnn, x_small, mc):
    mcbridge.set_mc_dropout(cnn, mc)
    a = cnn(x_small, training=True)
    b = cnn(x_small, training=True)
    assert _differs(a, b)


@pytest.mark.parametrize("mc", [False, True])
def test_train_on_batch_and_fit_train_and_keep_switch(cnn, x_small, mc):
    mcbridge.set_mc_dropout(cnn, mc)
    y = np.array([0, 1, 2, 0, 1, 2])
    before = [w.copy() for w in cnn.get_weights()]
    loss = cnn.train_on_batch(x_small, y)
    assert np.all(np.isfinite(loss))
    cnn.fit(x_small, y, epochs=1, verbose=0)
    assert any(_differs(a, b) for a, b in zip(before, cnn.get_weights()))
    assert mcbridge.mc_dropout_enabled(cnn) is mc


def test_gradient_tape_loop_applies_dropout(cnn, x_small):
    import tensorflow as tf

    mcbridge.set_mc_dropout(cnn, False)
    y = np.array([0, 1, 2, 0, 1, 2])
    losses = []
    for _ in range(2):
        with tf.GradientTape() as tape:
            probs = cnn(x_small, training=True)
            loss = keras.losses.sparse_categorical_crossentropy(y, probs)
        losses.append(float(tf.reduce_mean(loss)))
        grads = tape.gradient(loss, cnn.trainable_weights)
        assert all(g is not None for g in grads)
    # Same weights, different masks: the two losses differ.
    assert losses[0] != losses[1]


def test_batchnorm_stays_in_inference_mode_with_mc_on():
    model = mcbridge.make_switchable(plain_keras_model())
    bn = next(l for l in model.layers if isinstance(l, keras.layers.BatchNormalization))
    stats = [w.copy() for w in bn.get_weights()]
    x = np.random.default_rng(1).random((16, 8, 8, 1), dtype=np.float32) * 5
    with mcbridge.mc_dropout(model):
        model.predict(x, verbose=0)
        model(x)
    for a, b in zip(stats, bn.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_errors_for_models_without_switchable_dropout(plain_model):
    with pytest.raises(ValueError, match="make_switchable"):
        mcbridge.set_mc_dropout(plain_model, True)
    no_dropout = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no dropout layer"):
        mcbridge.set_mc_dropout(no_dropout, True)
    with pytest.raises(TypeError, match="Expected a keras.Model"):
        mcbridge.set_mc_dropout("model", True)


def test_enabled_must_be_bool(cnn):
    with pytest.raises(TypeError, match="enabled"):
        mcbridge.set_mc_dropout(cnn, 1)


def test_nested_models_are_switched():
    inner = keras.Sequential([keras.Input((4,)), mcbridge.MCDropout(0.5), keras.layers.Dense(4)])
    outer = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2, activation="softmax")])
    mcbridge.set_mc_dropout(outer, True)
    assert inner.layers[0].mc_enabled
    x = np.ones((3, 4), "float32")
    assert _differs(outer(x), outer(x))
