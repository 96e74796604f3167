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


def test_input_too_small_for_valid_padding_says_what_works():
    with pytest.raises(ValueError, match=r'input_shape=\(8, 8, 1\).*at least 10x10, or padding="same" '
                                         r"\(then 4x4 is enough\)"):
        mcbridge.build_cnn(input_shape=(8, 8, 1))
    # The sizes named in the message do work.
    assert mcbridge.build_cnn(input_shape=(10, 10, 1)).output_shape == (None, 10)
    assert mcbridge.build_cnn(input_shape=(4, 4, 1), padding="same").output_shape == (None, 10)
    with pytest.raises(ValueError, match="at least 4x4"):
        mcbridge.build_cnn(input_shape=(3, 3, 1), padding="same")
    with pytest.raises(ValueError, match="at least 22x22"):  # three blocks
        mcbridge.build_cnn(input_shape=(20, 20, 1), filters=(4, 4, 4), dropout=(0, 0, 0, 0.5))


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(n_classes="10"), "n_classes"), (dict(n_classes=10.0), "n_classes"), (dict(seed="1"), "seed"),
     (dict(input_shape="28x28"), "input_shape"), (dict(filters=32), "filters"), (dict(padding=None), "padding"),
     (dict(dropout="0.5"), "dropout"), (dict(dense_units=True), "dense_units")],
)
def test_wrong_types_are_type_errors(kwargs, match):
    with pytest.raises(TypeError, match=f"Invalid value received for argument `{match}`"):
        mcbridge.build_cnn(**kwargs)


def test_load_model_checks(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mcbridge.load_model(tmp_path / "none.keras")
    (tmp_path / "bad.keras").write_bytes(b"PK not really")
    with pytest.raises(ValueError, match="is not a Keras model file"):
        mcbridge.load_model(tmp_path / "bad.keras")
    with pytest.raises(TypeError, match="safe_mode"):
        mcbridge.load_model(tmp_path / "bad.keras", safe_mode="no")
    with pytest.raises(TypeError, match="file path"):
        mcbridge.load_model(None)
