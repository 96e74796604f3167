import keras
import numpy as np
import pytest

import mcbridge
from conftest import plain_keras_model

pytestmark = pytest.mark.numeric  # float results; run again with oneDNN capped at AVX2 (scripts/test.sh)


def test_functional_model_keeps_weights_and_becomes_switchable(plain_model, x_small):
    model = mcbridge.make_switchable(plain_model)
    assert model is not plain_model
    kinds = [type(l).__name__ for l in model.layers]
    assert "MCSpatialDropout2D" in kinds and "MCDropout" in kinds
    np.testing.assert_allclose(model.predict(x_small, verbose=0), plain_model.predict(x_small, verbose=0), rtol=1e-6)
    mcbridge.set_mc_dropout(model, True)
    assert not np.array_equal(model.predict(x_small, verbose=0), model.predict(x_small, verbose=0))
    # The original is untouched and independent.
    assert all(type(l).__module__.startswith("keras") for l in plain_model.layers)


def test_sequential_model_and_compile_state_are_kept(x_small):
    seq = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(8, activation="relu"),
        keras.layers.GaussianDropout(0.2), keras.layers.AlphaDropout(0.1),
        keras.layers.Dense(3, activation="softmax"),
    ])  # fmt: skip
    seq.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model = mcbridge.make_switchable(seq)
    assert isinstance(model, keras.Sequential)
    assert [type(l).__name__ for l in model.layers][2:4] == ["MCGaussianDropout", "MCAlphaDropout"]
    assert model.compiled and isinstance(model.optimizer, keras.optimizers.SGD)
    logs = model.train_on_batch(x_small, np.array([0, 1, 2, 0, 1, 2]), return_dict=True)
    assert set(logs) >= {"loss", "accuracy"}


def test_weights_are_copies_not_shared(plain_model, x_small):
    model = mcbridge.make_switchable(plain_model)
    before = plain_model.predict(x_small, verbose=0)
    model.fit(x_small, np.zeros(6, int), epochs=2, verbose=0)
    np.testing.assert_array_equal(plain_model.predict(x_small, verbose=0), before)


def test_already_switchable_is_returned_as_is(cnn):
    assert mcbridge.make_switchable(cnn) is cnn


def test_errors(x_small):
    no_dropout = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no dropout layer"):
        mcbridge.make_switchable(no_dropout)

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.drop = keras.layers.Dropout(0.5)
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(self.drop(x))

    sub = Sub()
    sub(np.ones((1, 3), "float32"))
    with pytest.raises(ValueError, match="subclassed"):
        mcbridge.make_switchable(sub)
    with pytest.raises(TypeError, match="keras.Model"):
        mcbridge.make_switchable(object())


def test_nested_model_is_converted(x_small):
    inner = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dropout(0.5)])
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(3, activation="softmax")(inner(inputs))
    model = mcbridge.make_switchable(keras.Model(inputs, outputs))
    mcbridge.set_mc_dropout(model, True)
    assert not np.array_equal(model(x_small), model(x_small))
