"""`mcbridge.export`: a SavedModel that serves mc_predict's samples and summaries without mcbridge."""

import json
import os
import subprocess
import sys
import sysconfig
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import mcbridge
from mcbridge.export import MANIFEST, SEEDED_SIGNATURE, call_states, member_seed

from conftest import plain_keras_model

N_SAMPLES = 6
BATCH = 4  # the export's chunk: 10 rows run as 4 + 4 + 2 (padded), as mc_predict(batch_size=4)
ALL = ("mean", "variance", "std", "predictive_entropy", "expected_entropy", "mutual_information")


def _cnn():
    return mcbridge.build_cnn(
        input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16, padding="same", seed=1
    )


@pytest.fixture(scope="module")
def x10():
    return np.random.default_rng(0).random((10, 8, 8, 1), dtype=np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The tiny CNN exported once (every summary and the samples) and loaded back."""
    model = _cnn()
    path = tmp_path_factory.mktemp("export") / "cnn"
    out = mcbridge.export(
        model, path, n_samples=N_SAMPLES, outputs=ALL, include_samples=True, batch_size=BATCH
    )
    return model, out, tf.saved_model.load(out)


def _seeded(loaded, x, seed, keys=None, **inputs):
    keys = np.arange(len(x)) if keys is None else keys
    fn = loaded.signatures[SEEDED_SIGNATURE]
    out = fn(x=tf.constant(x), seed=tf.constant(seed, tf.int64), key=tf.constant(keys, tf.int64), **inputs)
    return {k: v.numpy() for k, v in out.items()}


def _assert_matches(out, ref, entropies=True):
    """Samples, mean and variance bit for bit; entropies to float64 rounding (NumPy's log vs TensorFlow's)."""
    np.testing.assert_array_equal(out["samples"], ref.samples)
    np.testing.assert_array_equal(out["mean"], ref.mean)
    np.testing.assert_array_equal(out["variance"], ref.variance)
    if "std" in out:
        np.testing.assert_array_equal(out["std"], ref.std)
    if entropies:
        for name in ("predictive_entropy", "expected_entropy", "mutual_information"):
            if name in out:
                np.testing.assert_allclose(out[name], getattr(ref, name)(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**32 - 1, 2**32, 2**40 + 7, 2**62 + 3, 2**63 - 1])
def test_call_states_are_seed_sequence_in_tf_ops(seed):
    for n in (0, 1, 3, 8):
        words = np.random.SeedSequence(seed).generate_state(2 * max(n, 1), np.uint32)[: 2 * n]
        expected = (words >> 1).astype(np.int64).reshape(n, 2)
        np.testing.assert_array_equal(call_states(tf.constant(seed, tf.int64), n).numpy(), expected)
    children = np.random.SeedSequence(seed).spawn(4)
    for j, child in enumerate(children):
        assert int(member_seed(tf.constant(seed, tf.int64), j)) == int(child.generate_state(1, np.uint32)[0] >> 1)


@pytest.mark.numeric  # (run again with oneDNN capped at AVX2 by scripts/test.sh)
def test_seeded_signature_is_mc_predict_bit_for_bit(exported, x10):
    model, _, loaded = exported
    for seed in (0, 7, 2**63 - 1):
        out = _seeded(loaded, x10, seed)
        ref = mcbridge.mc_predict(model, x10, n_samples=N_SAMPLES, seed=seed, batch_size=BATCH)
        _assert_matches(out, ref)
    assert out["samples"].shape == (10, 3, N_SAMPLES) and out["samples"].dtype == np.float32
    # `predict`, the same with optional arguments: keys default to the row indices.
    _assert_matches({k: v.numpy() for k, v in loaded.predict(x10, seed=2**63 - 1).items()}, ref)
    keyed = loaded.predict(x10[3:], seed=2**63 - 1, key=np.arange(3, 10))
    np.testing.assert_allclose(keyed["samples"].numpy(), ref.samples[3:], rtol=1e-6, atol=1e-7)
    assert loaded.predict(x10)["mean"].shape == (10, 3)
    assert out["mean"].dtype == np.float64 and out["predictive_entropy"].shape == (10,)


def test_keys_are_row_indices_of_mc_predict(exported, x10):
    """Rows keyed 3..6 get the samples mc_predict gives rows 3..6 of the whole x (same masks)."""
    model, _, loaded = exported
    ref = mcbridge.mc_predict(model, x10, n_samples=N_SAMPLES, seed=3, batch_size=BATCH)
    out = _seeded(loaded, x10[3:7], 3, keys=np.arange(3, 7))
    # Another chunking (4 rows in one call, not rows 0..3 / 4..7): the same masks, values to float32 rounding.
    np.testing.assert_allclose(out["samples"], ref.samples[3:7], rtol=1e-6, atol=1e-7)
    # The same chunk shape gives the same bits.
    part = mcbridge.mc_predict(model, x10[3:7], n_samples=N_SAMPLES, seed=3, batch_size=BATCH)
    alone = _seeded(loaded, x10[3:7], 3)
    _assert_matches(alone, part)


def test_unseeded_calls_draw_fresh_masks(exported, x10):
    _, _, loaded = exported
    a = loaded.signatures["serving_default"](x=tf.constant(x10))
    b = loaded.signatures["serving_default"](x=tf.constant(x10))
    assert a["samples"].shape == (10, 3, N_SAMPLES)
    assert not np.array_equal(a["samples"].numpy(), b["samples"].numpy())
    np.testing.assert_allclose(a["mean"].numpy().sum(axis=1), 1.0, atol=1e-5)
    empty = loaded.signatures["serving_default"](x=tf.zeros((0, 8, 8, 1)))
    assert empty["samples"].shape == (0, 3, N_SAMPLES) and empty["mutual_information"].shape == (0,)


def test_bad_requests_are_refused(exported, x10):
    _, _, loaded = exported
    with pytest.raises(tf.errors.InvalidArgumentError, match="one int64 key per input row"):
        _seeded(loaded, x10, 1, keys=np.arange(3))
    with pytest.raises(tf.errors.InvalidArgumentError, match="non-negative"):
        _seeded(loaded, x10, -1)
    bad = x10.copy()
    bad[2, 0, 0, 0] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or infinite"):
        _seeded(loaded, bad, 1)


def test_manifest_and_signatures(exported):
    _, path, loaded = exported
    manifest = json.loads(open(os.path.join(path, "assets.extra", MANIFEST)).read())
    assert manifest["n_samples"] == N_SAMPLES and manifest["batch_size"] == BATCH
    assert manifest["outputs"] == [*ALL, "samples"]
    assert set(loaded.signatures) == {"serving_default", SEEDED_SIGNATURE}
    args = loaded.signatures[SEEDED_SIGNATURE].structured_input_signature[1]
    assert set(args) == {"x", "seed", "key"}


def _answer_without_mcbridge(path, x, seed, tmp_path) -> dict:
    """The seeded signature's answer for `x` (keys: row indices) from a Python that cannot import mcbridge.

    No .pth processing and PYTHONPATH unset: TensorFlow only.
    """
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.append({sysconfig.get_paths()["purelib"]!r})  # TensorFlow, without the editable mcbridge finder
        try:
            import mcbridge
            sys.exit("mcbridge importable: " + mcbridge.__file__)
        except ImportError:
            pass
        import numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({str(path)!r})
        x = np.load("x.npy")
        out = loaded.signatures["seeded"](x=tf.constant(x), seed=tf.constant({int(seed)}, tf.int64),
                                          key=tf.range(len(x), dtype=tf.int64))
        np.savez("out.npz", **{{k.replace("/", "|"): v.numpy() for k, v in out.items()}})
        assert "mcbridge" not in sys.modules
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {k.replace("|", "/"): v for k, v in np.load(tmp_path / "out.npz").items()}


def test_loads_and_answers_without_mcbridge(exported, x10, tmp_path):
    """A Python that cannot import mcbridge (no .pth processing, PYTHONPATH unset) gives the same numbers."""
    model, path, _ = exported
    out = _answer_without_mcbridge(path, x10, 11, tmp_path)
    _assert_matches(out, mcbridge.mc_predict(model, x10, n_samples=N_SAMPLES, seed=11, batch_size=BATCH))


def test_session_loading_as_tensorflow_serving_does(exported, x10):
    """TF1 session loading, feeding and fetching the SignatureDef's tensor names (TensorFlow Serving's way)."""
    model, path, _ = exported
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
        sig = meta.signature_def[SEEDED_SIGNATURE]
        feeds = {sig.inputs["x"].name: x10, sig.inputs["seed"].name: np.int64(4), sig.inputs["key"].name: np.arange(10)}
        out = sess.run({k: v.name for k, v in sig.outputs.items()}, feeds)
        fresh = meta.signature_def["serving_default"]
        draws = [sess.run(fresh.outputs["samples"].name, {fresh.inputs["x"].name: x10}) for _ in range(2)]
    _assert_matches(out, mcbridge.mc_predict(model, x10, n_samples=N_SAMPLES, seed=4, batch_size=BATCH))
    assert not np.array_equal(*draws)


def _lstm():
    inputs = keras.Input((12,), dtype="int32")
    h = keras.layers.Embedding(50, 8, mask_zero=True)(inputs)
    h = keras.layers.LSTM(8, dropout=0.2, recurrent_dropout=0.3)(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))


def _unet():
    inputs = keras.Input((16, 16, 1))
    c1 = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    b = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(keras.layers.MaxPooling2D()(c1))
    u = keras.layers.UpSampling2D()(keras.layers.Dropout(0.5)(b))
    outputs = keras.layers.Conv2D(2, 1, activation="softmax")(keras.layers.Concatenate()([u, c1]))
    return keras.Model(inputs, outputs)


def _dropconnect():
    inputs = keras.Input((6,))
    h = mcbridge.DropConnectDense(8, rate=0.3, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))


@pytest.mark.parametrize(
    "build, x",
    [
        (_lstm, lambda rng: rng.integers(0, 50, (6, 12)).astype("int32")),  # variational masks, Keras mask
        (_unet, lambda rng: rng.random((5, 16, 16, 1), dtype=np.float32)),  # dense output; cut at two tensors
        (_dropconnect, lambda rng: rng.random((7, 6), dtype=np.float32)),  # one weight mask per sample
    ],
    ids=["lstm", "unet", "dropconnect"],
)
def test_other_engine_paths(tmp_path, build, x):
    model, x = build(), x(np.random.default_rng(0))
    path = mcbridge.export(model, tmp_path / "m", n_samples=4, outputs=ALL, include_samples=True, batch_size=4)
    out = _seeded(tf.saved_model.load(path), x, 3)
    ref = mcbridge.mc_predict(model, x, n_samples=4, seed=3, batch_size=4)
    if build is _unet:  # per-pixel summaries
        assert out["samples"].shape == (5, 16, 16, 2, 4) and out["mean"].shape == (5, 16, 16, 2)
        assert out["mutual_information"].shape == (5, 16, 16)
    if build is _lstm:
        # The same masks; one value of 72 was seen 1 ulp off in 1 of 3 runs (the recurrent
        # loop's kernels are not bit-reproducible between graphs): float32 rounding here.
        np.testing.assert_allclose(out["samples"], ref.samples, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(out["mean"], ref.mean, rtol=1e-6, atol=1e-7)
    else:
        _assert_matches(out, ref)


def test_regression(tmp_path):
    inputs = keras.Input((5,))
    h = keras.layers.Dense(8, activation="relu")(inputs)
    h = keras.layers.Dropout(0.2)(h)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    x = np.random.default_rng(2).normal(size=(7, 5)).astype(np.float32)
    path = mcbridge.export(model, tmp_path / "reg", n_samples=5, task="regression", include_samples=True)
    out = _seeded(tf.saved_model.load(path), x, 4)
    assert set(out) == {"mean", "variance", "samples"}
    _assert_matches(out, mcbridge.mc_predict(model, x, n_samples=5, seed=4, task="regression"))
    with pytest.raises(ValueError, match="'predictive_entropy' is not a summary of task='regression'"):
        mcbridge.export(model, tmp_path / "reg2", task="regression", outputs=["mean", "predictive_entropy"])
    assert not (tmp_path / "reg2").exists()


def test_several_inputs_are_named_arguments(tmp_path):
    a, b = keras.Input((4,), name="num"), keras.Input((3,), name="extra")
    h = keras.layers.Concatenate()([keras.layers.Dense(8, activation="relu")(a), b])
    model = keras.Model([a, b], keras.layers.Dense(3, activation="softmax")(keras.layers.Dropout(0.3)(h)))
    rng = np.random.default_rng(0)
    xa, xb = rng.random((9, 4), dtype=np.float32), rng.random((9, 3), dtype=np.float32)
    loaded = tf.saved_model.load(mcbridge.export(model, tmp_path / "two", n_samples=5, include_samples=True))
    out = loaded.signatures[SEEDED_SIGNATURE](
        num=tf.constant(xa), extra=tf.constant(xb), seed=tf.constant(3, tf.int64), key=tf.range(9, dtype=tf.int64)
    )
    ref = mcbridge.mc_predict(model, {"num": xa, "extra": xb}, n_samples=5, seed=3)
    _assert_matches({k: v.numpy() for k, v in out.items()}, ref)
    seed_in = keras.Input((3,), name="seed")
    bad = keras.Model([a, seed_in], model([a, seed_in]))
    with pytest.raises(ValueError, match="Rename those model inputs"):
        mcbridge.export(bad, tmp_path / "bad")


def test_ensemble_is_one_savedmodel(tmp_path, x10):
    members = [plain_keras_model(name=f"m{j}") for j in range(2)]  # (BatchNormalization in the prefix)
    ens = mcbridge.Ensemble(members)
    path = mcbridge.export(ens, tmp_path / "ens", n_samples=3, include_samples=True, outputs=ALL)
    out = _seeded(tf.saved_model.load(path), x10, 21)
    assert out["samples"].shape == (10, 3, 6)
    _assert_matches(out, mcbridge.mc_predict(ens, x10, n_samples=3, seed=21))
    # n_samples=1: each member predicts once (no dropout needed), as mc_predict on an ensemble.
    path1 = mcbridge.export(ens, tmp_path / "ens1", n_samples=1, include_samples=True)
    out1 = _seeded(tf.saved_model.load(path1), x10, 0)
    _assert_matches(out1, mcbridge.mc_predict(ens, x10))


def test_logits(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dropout(0.5)(keras.layers.Dense(8)(inputs))))
    x = np.random.default_rng(3).normal(size=(5, 4)).astype(np.float32)
    path = mcbridge.export(model, tmp_path / "logits", n_samples=4, from_logits=True, include_samples=True)
    out = _seeded(tf.saved_model.load(path), x, 2)
    _assert_matches(out, mcbridge.mc_predict(model, x, n_samples=4, seed=2, from_logits=True))


def _two_outputs():
    """A classifier head `label` (3 classes) and a heteroscedastic regression head `price` (2 means, 2 log-variances)."""
    inputs = keras.Input((5,))
    h = keras.layers.Dropout(0.3)(keras.layers.Dense(8, activation="relu")(inputs))
    label = keras.layers.Dense(3, activation="softmax", name="label")(h)
    price = keras.layers.Dense(4, name="price")(keras.layers.Dropout(0.2)(keras.layers.Dense(6, activation="relu")(h)))
    return keras.Model(inputs, [label, price])


TWO_TASKS = {"task": ["classification", "regression"], "heteroscedastic": [False, True]}


def _assert_heteroscedastic(out, ref, prefix=""):
    """The means' samples and summaries bit for bit; exp of the log-variances to float32 rounding.

    (TensorFlow's float32 `exp` and NumPy's differ by up to 2 ulp, so the noise
    variance and what sums it agree to about 2.4e-7, relative.)
    """
    np.testing.assert_array_equal(out[prefix + "samples"], ref.samples)
    np.testing.assert_array_equal(out[prefix + "mean"], ref.mean)
    np.testing.assert_array_equal(out[prefix + "epistemic_variance"], ref.epistemic_variance)
    np.testing.assert_allclose(out[prefix + "noise_variance"], ref.noise_variance, rtol=5e-7)
    np.testing.assert_allclose(out[prefix + "aleatoric_variance"], ref.aleatoric_variance, rtol=5e-7)
    np.testing.assert_allclose(out[prefix + "predictive_variance"], ref.predictive_variance, rtol=5e-7)


@pytest.mark.numeric
def test_several_outputs_serve_named_summaries(tmp_path):
    """`<output>/<summary>` per output, each output's own summaries; mc_predict's numbers, here and without mcbridge."""
    model = _two_outputs()
    x = np.random.default_rng(4).normal(size=(10, 5)).astype(np.float32)
    path = mcbridge.export(model, tmp_path / "two", n_samples=N_SAMPLES, batch_size=BATCH, include_samples=True,
                           **TWO_TASKS)  # fmt: skip
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures["serving_default"].structured_outputs) == {
        "label/mean", "label/variance", "label/predictive_entropy", "label/mutual_information", "label/samples",
        "price/mean", "price/aleatoric_variance", "price/epistemic_variance", "price/predictive_variance",
        "price/samples", "price/noise_variance",
    }  # fmt: skip
    label, price = mcbridge.mc_predict(model, x, n_samples=N_SAMPLES, seed=9, batch_size=BATCH, **TWO_TASKS)
    for out in (_seeded(loaded, x, 9), _answer_without_mcbridge(path, x, 9, tmp_path)):
        _assert_matches({k.removeprefix("label/"): v for k, v in out.items() if k.startswith("label/")}, label)
        _assert_heteroscedastic(out, price, "price/")
        assert out["price/samples"].shape == (10, 2, N_SAMPLES) and out["price/mean"].shape == (10, 2)
    # TensorFlow Serving's way (TF1 session, the SignatureDef's tensor names): the same keys and bits.
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        sig = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path).signature_def[SEEDED_SIGNATURE]
        feeds = {sig.inputs["x"].name: x, sig.inputs["seed"].name: np.int64(9), sig.inputs["key"].name: np.arange(10)}
        served = sess.run({k: v.name for k, v in sig.outputs.items()}, feeds)
    np.testing.assert_array_equal(served["label/mean"], label.mean)
    np.testing.assert_array_equal(served["price/epistemic_variance"], price.epistemic_variance)
    manifest = json.loads(open(os.path.join(path, "assets.extra", MANIFEST)).read())
    assert manifest["task"] == ["classification", "regression"]
    assert [(o["name"], o["heteroscedastic"]) for o in manifest["model_outputs"]] == [("label", False), ("price", True)]
    # Summaries per output (a dict); outputs it leaves out get their defaults.
    path2 = mcbridge.export(model, tmp_path / "some", n_samples=3, outputs={"price": ["predictive_std", "mean"]},
                            **TWO_TASKS)  # fmt: skip
    keys = set(tf.saved_model.load(path2).signatures["serving_default"].structured_outputs)
    assert keys == {"label/mean", "label/variance", "label/predictive_entropy", "label/mutual_information",
                    "price/predictive_std", "price/mean"}  # fmt: skip


@pytest.mark.numeric
def test_heteroscedastic_split(tmp_path):
    """One output: unprefixed names, MCResult's split of the noise; plain regression serves the raw 2d outputs."""
    inputs = keras.Input((5,))
    h = keras.layers.Dropout(0.25)(keras.layers.Dense(8, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(h))  # a mean and a log-variance
    x = np.random.default_rng(6).normal(size=(7, 5)).astype(np.float32)
    names = list(mcbridge.export.OUTPUTS["heteroscedastic"])
    path = mcbridge.export(model, tmp_path / "h", n_samples=5, task="regression", heteroscedastic=True,
                           outputs=names, include_samples=True)  # fmt: skip
    out = _seeded(tf.saved_model.load(path), x, 2)
    assert set(out) == {*names, "samples", "noise_variance"}
    ref = mcbridge.mc_predict(model, x, n_samples=5, seed=2, task="regression", heteroscedastic=True)
    _assert_heteroscedastic(out, ref)
    np.testing.assert_array_equal(out["variance"], ref.variance)
    np.testing.assert_allclose(out["predictive_std"], ref.predictive_std, rtol=5e-7)
    assert out["mean"].shape == (7, 1)
    with pytest.raises(ValueError, match="'aleatoric_variance' is not a summary of task='regression'"):
        mcbridge.export(model, tmp_path / "plain", task="regression", outputs=["aleatoric_variance"])
    odd = keras.Model(inputs, keras.layers.Dense(3)(h))
    with pytest.raises(ValueError, match="even number of entries"):
        mcbridge.export(odd, tmp_path / "odd", task="regression", heteroscedastic=True)
    with pytest.raises(ValueError, match="heteroscedastic"):
        mcbridge.export(model, tmp_path / "cls", heteroscedastic=True)  # (classification)
    assert sorted(os.listdir(tmp_path)) == ["h"]


def test_heteroscedastic_ensemble(tmp_path):
    members = []
    for j in range(2):
        inputs = keras.Input((4,))
        h = keras.layers.Dropout(0.3)(keras.layers.Dense(6, activation="relu")(inputs))
        members.append(keras.Model(inputs, keras.layers.Dense(2)(h), name=f"r{j}"))
    ens = mcbridge.Ensemble(members)
    x = np.random.default_rng(8).normal(size=(5, 4)).astype(np.float32)
    for n_samples in (1, 3):
        path = mcbridge.export(ens, tmp_path / f"e{n_samples}", n_samples=n_samples, task="regression",
                               heteroscedastic=True, include_samples=True)  # fmt: skip
        out = _seeded(tf.saved_model.load(path), x, 13)
        ref = mcbridge.mc_predict(ens, x, n_samples=n_samples, seed=13, task="regression", heteroscedastic=True)
        np.testing.assert_array_equal(out["samples"], ref.samples)
        np.testing.assert_allclose(out["aleatoric_variance"], ref.aleatoric_variance, rtol=5e-7)


def test_several_outputs_bad_arguments(tmp_path):
    model = _two_outputs()
    with pytest.raises(ValueError, match="'predictive_entropy' is not a summary of output 'price' "
                                         "\\(task='regression' with heteroscedastic=True\\).*outputs=\\{'label'"):
        mcbridge.export(model, tmp_path / "a", outputs=["mean", "predictive_entropy"], **TWO_TASKS)
    with pytest.raises(ValueError, match="'mutual_information' is not a summary of output 'price'"):
        mcbridge.export(model, tmp_path / "a", outputs={"price": ["mutual_information"]}, **TWO_TASKS)
    with pytest.raises(ValueError, match="'cost' is not an output of the model.*'label', 'price'"):
        mcbridge.export(model, tmp_path / "a", outputs={"cost": ["mean"]}, **TWO_TASKS)
    with pytest.raises(ValueError, match="one per model output"):
        mcbridge.export(model, tmp_path / "a", task=["classification"] * 3)
    with pytest.raises(ValueError, match="Output 'price': .*not probabilities"):
        mcbridge.export(model, tmp_path / "a")  # (price as classification: real values)
    assert os.listdir(tmp_path) == []


def test_models_mcbridge_cannot_sample_are_refused(tmp_path):
    inputs = keras.Input((4,))
    plain = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    with pytest.raises(ValueError, match="no dropout"):
        mcbridge.export(plain, tmp_path / "a")
    two = keras.Model(inputs, [keras.layers.Dense(3, activation="softmax")(keras.layers.Dropout(0.5)(inputs))] * 2)
    with pytest.raises(ValueError, match="outputs named \\[('dense[_0-9]*'), \\1\\].*distinct names"):
        mcbridge.export(two, tmp_path / "b")
    logits = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dropout(0.5)(inputs)))
    with pytest.raises(ValueError, match="not probabilities.*export\\(..., from_logits=True\\)"):
        mcbridge.export(logits, tmp_path / "c")
    with pytest.raises(TypeError, match="keras.Model"):
        mcbridge.export("model.keras", tmp_path / "d")
    assert os.listdir(tmp_path) == []  # nothing written, no temporary directory left


def test_target_directory_rules(tmp_path):
    model = plain_keras_model(batchnorm=False)
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty.*overwrite=True"):
        mcbridge.export(model, target, n_samples=2)
    with pytest.raises(FileExistsError, match="holds no SavedModel"):
        mcbridge.export(model, target, n_samples=2, overwrite=True)
    assert (target / "notes.txt").read_text() == "keep me"
    fresh = tmp_path / "fresh"
    mcbridge.export(model, fresh, n_samples=2)
    with pytest.raises(FileExistsError, match="not empty"):
        mcbridge.export(model, fresh, n_samples=3)
    mcbridge.export(model, fresh, n_samples=3, overwrite=True)
    manifest = json.loads((fresh / "assets.extra" / MANIFEST).read_text())
    assert manifest["n_samples"] == 3
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError, match="it is a file"):
        mcbridge.export(model, tmp_path / "file")
    with pytest.raises(FileNotFoundError, match="does not exist. Create it first"):
        mcbridge.export(model, tmp_path / "missing" / "m")
    with pytest.raises(OSError, match="nothing can be written in"):
        mcbridge.export(model, "/proc/mcbridge-export-test", n_samples=2)
    assert sorted(os.listdir(tmp_path)) == ["file", "fresh", "out"]  # no temporary sibling left


def test_bad_arguments(tmp_path):
    model = plain_keras_model(batchnorm=False)
    with pytest.raises(ValueError, match="n_samples"):
        mcbridge.export(model, tmp_path / "a", n_samples=0)
    with pytest.raises(ValueError, match="'entropy' is not a summary"):
        mcbridge.export(model, tmp_path / "a", outputs=["entropy"])
    with pytest.raises(TypeError, match="outputs"):
        mcbridge.export(model, tmp_path / "a", outputs="mean")
    with pytest.raises(TypeError, match="overwrite"):
        mcbridge.export(model, tmp_path / "a", overwrite="yes")
    assert os.listdir(tmp_path) == []


def test_reachable_lazily_and_callable():
    """`mcbridge.export` is the (callable) module, reached without importing TensorFlow or Keras."""
    code = (
        "import sys, mcbridge\n"
        "e = mcbridge.export\n"
        "assert callable(e) and e.__name__ == 'mcbridge.export' and 'export' in mcbridge.__all__\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_cli_export(tmp_path, capsys):
    from mcbridge import cli

    model = plain_keras_model(batchnorm=False)
    model.save(tmp_path / "m.keras")
    out = tmp_path / "served"
    argv = ["export", str(tmp_path / "m.keras"), "-o", str(out), "--n-samples", "4", "--include-samples"]
    assert cli.main(argv) == 0
    assert "Exported" in capsys.readouterr().out
    manifest = json.loads((out / "assets.extra" / MANIFEST).read_text())
    assert manifest["n_samples"] == 4 and manifest["outputs"][-1] == "samples"
    x = np.random.default_rng(5).random((3, 8, 8, 1), dtype=np.float32)
    got = _seeded(tf.saved_model.load(str(out)), x, 8)
    _assert_matches(got, mcbridge.mc_predict(model, x, n_samples=4, seed=8))
    assert cli.main(argv) == 1  # exists: one line that says what to do
    assert "not empty. Pass overwrite=True (CLI: --overwrite)" in capsys.readouterr().err
    assert cli.main([*argv[:-1], "--outputs", "mean,entropy"]) == 1
    assert "'entropy' is not a summary" in capsys.readouterr().err


def test_cli_export_several_outputs(tmp_path, capsys):
    from mcbridge import cli

    model = _two_outputs()
    model.save(tmp_path / "two.keras")
    out = tmp_path / "served"
    argv = ["export", str(tmp_path / "two.keras"), "-o", str(out), "--n-samples", "3",
            "--task", "classification,regression", "--heteroscedastic", "price"]  # fmt: skip
    assert cli.main(argv) == 0
    manifest = json.loads((out / "assets.extra" / MANIFEST).read_text())
    assert manifest["outputs"] == [
        "label/mean", "label/variance", "label/predictive_entropy", "label/mutual_information",
        "price/mean", "price/aleatoric_variance", "price/epistemic_variance", "price/predictive_variance",
    ]  # fmt: skip
    x = np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32)
    got = _seeded(tf.saved_model.load(str(out)), x, 5)
    label, price = mcbridge.mc_predict(model, x, n_samples=3, seed=5, **TWO_TASKS)
    np.testing.assert_array_equal(got["label/mean"], label.mean)
    np.testing.assert_array_equal(got["price/epistemic_variance"], price.epistemic_variance)
    capsys.readouterr()
    assert cli.main([*argv[:-1], "cost", "--overwrite"]) == 1
    assert "not an output of the model (its outputs: label, price)" in capsys.readouterr().err
    assert cli.main([*argv[:-4], "--overwrite"]) == 1  # price as classification: not probabilities
    assert "Output 'price'" in capsys.readouterr().err


def test_ensembles_of_every_model_mc_predict_takes(tmp_path):
    """Several inputs, several outputs, dense outputs: sampled (n_samples > 1) or predicted once (n_samples=1)."""
    import keras

    from mcbridge.ensemble import Ensemble

    def two_in(j):
        img, tab = keras.Input((4,), name="img"), keras.Input((3,), name="tab")
        h = keras.layers.Dropout(0.5)(keras.layers.Dense(4)(keras.layers.Concatenate()([img, tab])))
        return keras.Model([img, tab], keras.layers.Dense(3, activation="softmax")(h), name=f"in{j}")

    def two_out(j):
        f = keras.Input((3,), name="f")
        h = keras.layers.Dropout(0.5)(keras.layers.Dense(4)(f))
        return keras.Model(f, [keras.layers.Dense(3, activation="softmax", name="c")(h),
                               keras.layers.Dense(1, name="r")(h)], name=f"out{j}")

    def dense(j):
        return keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 1), keras.layers.SpatialDropout2D(0.5),
                                 keras.layers.Conv2D(3, 1, activation="softmax")], name=f"dense{j}")

    rng = np.random.default_rng(5)
    tasks = dict(task=["classification", "regression"])
    for make, xs, kwargs, counts in [
        (two_in, {"img": rng.random((6, 4)), "tab": rng.random((6, 3))}, {}, (1, 3)),
        (two_out, {"x": rng.random((6, 3))}, tasks, (1,)),  # (n_samples > 1: the engine's path, as one model's)
        (dense, {"x": rng.random((6, 4, 4, 1))}, {}, (1,)),
    ]:
        xs = {k: v.astype(np.float32) for k, v in xs.items()}
        ens = Ensemble([make(0), make(1)])
        x = xs["x"] if "x" in xs else xs
        for n_samples in counts:
            path = mcbridge.export(ens, tmp_path / f"{make.__name__}{n_samples}", n_samples=n_samples,
                                   include_samples=True, overwrite=True, **kwargs)
            fn = tf.saved_model.load(path).signatures[SEEDED_SIGNATURE]
            out = fn(seed=tf.constant(4, tf.int64), key=tf.constant(np.arange(6), tf.int64),
                     **{k: tf.constant(v) for k, v in xs.items()})
            out = {k: v.numpy() for k, v in out.items()}
            refs = mcbridge.mc_predict(ens, x, n_samples=n_samples, seed=4, **kwargs)
            refs = refs if isinstance(refs, list) else [refs]
            prefixes = ["c/", "r/"] if len(refs) == 2 else [""]
            for prefix, ref in zip(prefixes, refs):
                mine = {k.removeprefix(prefix): v for k, v in out.items() if k.startswith(prefix)}
                _assert_matches(mine, ref)


def test_a_model_built_on_inputs_of_any_size_exports_the_size_asked_for(tmp_path, capsys):
    keras.utils.set_random_seed(3)
    i = keras.Input((None, None, 1))
    h = keras.layers.Dropout(0.3)(keras.layers.Conv2D(4, 3, padding="same", activation="relu")(i))
    model = keras.Model(i, keras.layers.Conv2D(3, 1, activation="softmax")(h))
    with pytest.raises(ValueError, match=r"inputs of unknown size.*input_shape=\(128, 128, 3\)"):
        mcbridge.export(model, tmp_path / "no")
    for bad in [(8, 8), (8, 0, 1), [(8, 8, 1), (8, 8, 1)]]:
        with pytest.raises(ValueError, match="`input_shape`"):
            mcbridge.export(model, tmp_path / "no", input_shape=bad)
    assert not (tmp_path / "no").exists()
    path = mcbridge.export(model, tmp_path / "fcn", n_samples=3, input_shape=(8, 6, 1), include_samples=True)
    x = np.random.default_rng(0).random((4, 8, 6, 1)).astype(np.float32)
    out = _seeded(tf.saved_model.load(path), x, 7)
    _assert_matches(out, mcbridge.mc_predict(model, x, n_samples=3, seed=7))
    from mcbridge import cli  # the command line: --input-shape

    model.save(tmp_path / "fcn.keras")
    argv = ["export", str(tmp_path / "fcn.keras"), "-o", str(tmp_path / "cli"), "--n-samples", "3"]
    assert cli.main(argv) == 1 and "input_shape" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        cli.main([*argv, "--input-shape", "8,x,1"])
    assert usage.value.code == 2 and "positive sizes" in capsys.readouterr().err
    assert cli.main([*argv, "--input-shape", "8,6,1"]) == 0
    np.testing.assert_array_equal(_seeded(tf.saved_model.load(str(tmp_path / "cli")), x, 7)["mean"], out["mean"])
