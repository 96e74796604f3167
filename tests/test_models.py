import keras
import numpy as np
import pytest

import mcbridge


def test_seed_cnn_architecture_and_compile():
    model = mcbridge.build_cnn()
    kinds = [type(l).__name__ for l in model.layers]
    assert kinds == [
        "Conv2D", "MCDropout", "MaxPooling2D", "Conv2D", "MCDropout", "MaxPooling2D",
        "Flatten", "Dense", "MCDropout", "Dense",
    ]  # fmt: skip
    assert [l.rate for l in model.layers if isinstance(l, mcbridge.MCDropout)] == [0.25, 0.25, 0.5]
    assert model.output_shape == (None, 10) and model.input_shape == (None, 28, 28, 1)
    assert model.layers[-1].activation is keras.activations.softmax
    assert model.compiled and isinstance(model.optimizer, keras.optimizers.Adam)
    assert np.isclose(float(model.optimizer.learning_rate), 1e-3)
    assert not mcbridge.mc_dropout_enabled(model)


def test_head_only_dropout_variant():
    model = mcbridge.build_cnn(dense_units=0, dropout=(0, 0, 0.5))
    kinds = [type(l).__name__ for l in model.layers]
    assert kinds == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "MCDropout", "Dense"]


def test_seeded_builds_are_identical():
    a = mcbridge.build_cnn(input_shape=(8, 8, 1), padding="same", seed=5).get_weights()
    b = mcbridge.build_cnn(input_shape=(8, 8, 1), padding="same", seed=5).get_weights()
    assert all(np.array_equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(input_shape=(28, 28)), "input_shape"),
        (dict(n_classes=0), "n_classes"),
        (dict(dropout=(0.5, 0.5)), "dropout"),
        (dict(dropout=(0.5, 0.5, 1.0)), "dropout"),
        (dict(dense_units=-1), "dense_units"),
        (dict(padding="full"), "padding"),
        (dict(filters=(32, 0)), "filters"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mcbridge.build_cnn(**kwargs)
