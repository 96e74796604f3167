import zipfile

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


# ---- the MLP for tabular data ------------------------------------------------


def _tabular(n=256, features=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    return x, rng


def test_mlp_classifier_architecture_and_compile():
    from mcbridge.models import build_mlp

    model = build_mlp(input_dim=5, n_outputs=3, hidden_units=(16, 8), dropout=(0.2, 0))
    kinds = [type(l).__name__ for l in model.layers]
    assert kinds == ["Dense", "MCDropout", "Dense", "Dense"]
    assert model.input_shape == (None, 5) and model.output_shape == (None, 3)
    assert model.layers[-1].activation is keras.activations.softmax
    assert model.loss == "sparse_categorical_crossentropy"
    assert not mcbridge.mc_dropout_enabled(model)


def test_mlp_regression_learns_and_mc_predict_varies():
    from mcbridge.models import build_mlp

    x, rng = _tabular()
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 0.1 * rng.normal(size=len(x))).astype("float32")
    model = build_mlp(input_dim=5, n_outputs=1, hidden_units=(32,), dropout=(0.1,), task="regression", seed=1)
    assert model.layers[-1].activation is keras.activations.linear
    before = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    after = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert after < before / 3
    res = mcbridge.mc_predict(model, x[:10], n_samples=20, seed=3, task="regression")
    assert res.samples.shape == (10, 1, 20)
    assert np.all(res.variance > 0)  # dropout is on while sampling


def test_mlp_heteroscedastic_learns_the_noise():
    from mcbridge.models import build_mlp, heteroscedastic_nll

    x, rng = _tabular(n=1024, features=1, seed=2)
    sd = np.where(x[:, 0] > 0, 1.0, 0.1).astype("float32")
    y = (2 * x[:, 0] + sd * rng.normal(size=len(x))).astype("float32")
    model = build_mlp(input_dim=1, n_outputs=1, hidden_units=(32, 32), dropout=(0.05, 0.05),
                      task="regression", heteroscedastic=True, seed=4)
    assert model.output_shape == (None, 2) and model.loss is heteroscedastic_nll
    model.fit(x, y, epochs=40, batch_size=64, verbose=0)
    probe = np.array([[-1.0], [1.0]], dtype="float32")
    res = mcbridge.mc_predict(model, probe, n_samples=30, seed=5, task="regression", heteroscedastic=True)
    noise_sd = np.sqrt(res.noise_variance.mean(axis=-1))[:, 0]
    assert noise_sd[1] > 3 * noise_sd[0]  # noisier where x > 0


def test_heteroscedastic_nll_value():
    from mcbridge.models import heteroscedastic_nll

    y = np.array([[1.0], [0.0]], dtype="float32")
    pred = np.array([[0.0, 0.0], [1.0, np.log(4.0)]], dtype="float32")
    got = keras.ops.convert_to_numpy(heteroscedastic_nll(y, pred))
    np.testing.assert_allclose(got, [0.5, 0.5 * (np.log(4.0) + 0.25)], rtol=1e-6)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")  # never trained
def test_mlp_saves_and_loads(tmp_path):
    from mcbridge.models import build_mlp

    model = build_mlp(input_dim=3, n_outputs=2, task="regression", heteroscedastic=True, seed=0)
    model.save(tmp_path / "m.keras")
    back = mcbridge.load_model(tmp_path / "m.keras")
    assert back.loss.__name__ == "heteroscedastic_nll"  # the loss is restored by name
    x = np.ones((2, 3), dtype="float32")
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")  # never trained
def test_class_names_are_kept_in_the_keras_file(tmp_path):
    """R's factor levels (`mcbridge_class_names`) survive save and load; Keras itself still loads the file."""
    from mcbridge.models import build_mlp, save_model_with_class_names

    model = build_mlp(input_dim=3, n_outputs=3, seed=0)
    save_model_with_class_names(model, tmp_path / "plain.keras")  # no names: no entry
    assert not hasattr(mcbridge.load_model(tmp_path / "plain.keras"), "mcbridge_class_names")
    model.mcbridge_class_names = ("setosa", "versicolor", "virginica")
    path = tmp_path / "m.keras"
    path.write_bytes(b"an older file")
    save_model_with_class_names(model, path)  # replaced as a whole; no temporary file left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras", "plain.keras"]
    back = mcbridge.load_model(path)
    assert back.mcbridge_class_names == ("setosa", "versicolor", "virginica")
    x = np.ones((2, 3), dtype="float32")
    np.testing.assert_array_equal(keras.models.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "broken.keras", "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name) if name != "mcbridge.json" else b"{not json")
    path = tmp_path / "broken.keras"
    with pytest.warns(UserWarning, match="no list of class names"):
        assert not hasattr(mcbridge.load_model(path), "mcbridge_class_names")


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(input_dim=0), ValueError, "input_dim"),
        (dict(input_dim=3, n_outputs=1), ValueError, "n_outputs"),
        (dict(input_dim=3, dropout=(0.5,)), ValueError, "dropout"),
        (dict(input_dim=3, dropout=(0.5, 1.0)), ValueError, "dropout"),
        (dict(input_dim=3, task="ranking"), ValueError, "task"),
        (dict(input_dim=3, heteroscedastic=True), ValueError, "heteroscedastic"),
        (dict(input_dim=3, hidden_units="64"), TypeError, "hidden_units"),
        (dict(input_dim=3, heteroscedastic=1, task="regression"), TypeError, "heteroscedastic"),
    ],
)
def test_mlp_bad_arguments(kwargs, error, match):
    from mcbridge.models import build_mlp

    with pytest.raises(error, match=match):
        build_mlp(**kwargs)
