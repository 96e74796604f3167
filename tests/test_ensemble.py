"""Deep ensembles: training, prediction through mc_predict, one-file save/load."""

import json
import os
import zipfile

import keras
import numpy as np
import pytest

import mcbridge
from mcbridge.ensemble import Ensemble, _member_seeds


def dense_builder(outputs=3, activation="softmax", dropout=0.0, loss="sparse_categorical_crossentropy"):
    """A function that builds a tiny compiled MLP on 4 features (fresh weights each call)."""

    def build():
        layers = [keras.Input((4,)), keras.layers.Dense(8, activation="relu")]
        if dropout:
            layers.append(mcbridge.MCDropout(dropout))
        layers.append(keras.layers.Dense(outputs, activation=activation))
        model = keras.Sequential(layers)
        model.compile(optimizer="adam", loss=loss)
        return model

    return build


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    return x, rng.integers(0, 3, 32)


@pytest.fixture
def ens(data):
    return mcbridge.train_ensemble(dense_builder(dropout=0.5), *data, k=2, seed=7, progress=False)


def test_train_ensemble_members_differ_and_same_seed_reproduces(data, capsys):
    x, y = data
    ens = mcbridge.train_ensemble(dense_builder(), x, y, k=3, epochs=2, batch_size=8, seed=11)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Ensemble member")]
    assert len(lines) == 3 and lines[2].startswith("Ensemble member 3/3: 2 epoch(s) in ")
    assert len(ens) == 3 and list(ens) == list(ens.members) and ens[1] is ens.members[1]
    assert ens.member_seeds == tuple(_member_seeds(11, 3))
    w = [m.get_weights()[0] for m in ens]
    assert not np.array_equal(w[0], w[1]) and not np.array_equal(w[1], w[2])
    again = mcbridge.train_ensemble(dense_builder(), x, y, k=3, epochs=2, batch_size=8, seed=11, progress=False)
    assert capsys.readouterr().out == ""
    for a, b in zip(ens, again):
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wa, wb)


def test_train_ensemble_seed_none_records_fresh_member_seeds(data):
    ens = mcbridge.train_ensemble(dense_builder(), *data, k=2, progress=False)
    assert len(ens.member_seeds) == 2 and ens.member_seeds[0] != ens.member_seeds[1]


def test_train_ensemble_refuses_builders_that_do_not_vary(data):
    x, y = data

    def fixed():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
            3, activation="softmax", kernel_initializer=keras.initializers.GlorotUniform(seed=1))])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    with pytest.raises(ValueError, match="same initial weights as member 1"):
        mcbridge.train_ensemble(fixed, x, y, k=2, progress=False)
    one = dense_builder()()
    with pytest.raises(ValueError, match="same model object"):
        mcbridge.train_ensemble(lambda: one, x, y, k=2, progress=False)
    with pytest.raises(TypeError, match="uncompiled"):
        mcbridge.train_ensemble(lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]), x, y, k=1)
    with pytest.raises(TypeError, match="must return a keras.Model"):
        mcbridge.train_ensemble(lambda: 3, x, y, k=1)
    with pytest.raises(ValueError, match="Expected a positive integer. Received: k=0"):
        mcbridge.train_ensemble(dense_builder(), x, y, k=0)
    with pytest.raises(ValueError, match="Received: seed=-1"):
        mcbridge.train_ensemble(dense_builder(), x, y, seed=-1)
    with pytest.raises(TypeError, match="build_fn"):
        mcbridge.train_ensemble("not callable", x, y)


def test_mc_predict_ensemble_is_one_deterministic_prediction_per_member(ens, data):
    x = data[0][:10]
    mcbridge.set_mc_dropout(ens[0], True)  # n_samples=1 still predicts with dropout off
    result = mcbridge.mc_predict(ens, x)
    assert mcbridge.mc_dropout_enabled(ens[0]) and not mcbridge.mc_dropout_enabled(ens[1])
    assert isinstance(result, mcbridge.MCResult) and result.task == "classification"
    assert result.samples.shape == (10, 3, 2) and result.samples.dtype == np.float32
    mcbridge.set_mc_dropout(ens[0], False)
    for j, member in enumerate(ens):
        np.testing.assert_array_equal(result.samples[:, :, j], member.predict(x, batch_size=128, verbose=0))


def test_mc_predict_ensemble_mc_dropout_inside_members_is_member_major(ens, data):
    x = data[0][:5]
    result = mcbridge.mc_predict(ens, x, n_samples=4, seed=3)
    assert result.samples.shape == (5, 3, 8)
    seeds = _member_seeds(3, 2)
    for j, member in enumerate(ens):
        alone = mcbridge.mc_predict(member, x, n_samples=4, seed=seeds[j])
        np.testing.assert_array_equal(result.samples[:, :, 4 * j : 4 * j + 4], alone.samples)
    assert result.variance.min() > 0
    again = mcbridge.mc_predict(ens, x, n_samples=4, seed=3)
    np.testing.assert_array_equal(again.samples, result.samples)


def test_mc_predict_ensemble_without_dropout(data):
    ens = Ensemble([dense_builder()(), dense_builder()()])
    assert mcbridge.mc_predict(ens, data[0]).samples.shape == (32, 3, 2)
    with pytest.raises(ValueError, match="pass n_samples=1"):
        mcbridge.mc_predict(ens, data[0], n_samples=3)


def test_mc_predict_ensemble_regression_and_logits(data):
    x = data[0]
    regressors = Ensemble([dense_builder(2, None, loss="mse")() for _ in range(3)])
    with pytest.raises(ValueError, match=r"Member 1 .* not probabilities.*task=\"regression\""):
        mcbridge.mc_predict(regressors, x)
    result = mcbridge.mc_predict(regressors, x, task="regression")
    assert result.task == "regression" and result.samples.shape == (32, 2, 3)
    np.testing.assert_array_equal(result.samples[:, :, 2], regressors[2].predict(x, batch_size=128, verbose=0))
    with pytest.raises(ValueError, match="predicted_class"):
        result.predicted_class
    probs = mcbridge.mc_predict(regressors, x, from_logits=True)
    logits = regressors[0].predict(x, verbose=0).astype(np.float64)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs.samples[:, :, 0], expected, rtol=1e-6)  # float32 rounding
    with pytest.raises(ValueError, match="classification only"):
        mcbridge.mc_predict(regressors, x, from_logits=True, task="regression")


@pytest.mark.cpu
def test_mc_predict_ensemble_argument_errors(ens, data, cpu_bf16):
    x = data[0]
    with pytest.raises(ValueError, match="Received: n_samples=0"):
        mcbridge.mc_predict(ens, x, n_samples=0)
    with pytest.raises(ValueError, match="Received: task='tabular'"):
        mcbridge.mc_predict(ens, x, task="tabular")
    with pytest.raises(ValueError, match=r"Expected an array of shape \(n, 4\)"):
        mcbridge.mc_predict(ens, x[:, :3])
    with pytest.raises(TypeError, match="numeric"):
        mcbridge.mc_predict(ens, np.array([["a"] * 4]))
    with pytest.raises(TypeError, match="unexpected keyword"):
        mcbridge.mc_predict(ens, x, bogus=1)
    for rule in ({"tolerance": 0.01}, {"class_margin": 2}):
        with pytest.raises(ValueError, match="not available for an Ensemble"):
            mcbridge.mc_predict(ens, x, n_samples=4, **rule)
    with pytest.raises(ValueError, match="precision='bfloat16' applies to MC sampling"):
        mcbridge.mc_predict(ens, x, precision="bfloat16")
    with pytest.raises(ValueError, match="Received: precision='half'"):
        mcbridge.mc_predict(ens, x, n_samples=2, precision="half")


def test_mc_predict_ensemble_checks_arguments_as_mc_predict_does(ens, data):
    """One set of checks (mcbridge._checks): an ensemble refuses what its member refuses, in the same words."""
    x = data[0]
    nan = x.copy()
    nan[1, 2] = np.nan
    for args, kwargs in [
        ((x,), dict(seed=-1)), ((x,), dict(seed="1")), ((x,), dict(from_logits=1)), ((x,), dict(progress="no")),
        ((x,), dict(task=3)), ((x,), dict(heteroscedastic=1)), ((x,), dict(from_logits=True, task="regression")),
        ((x[:, :3],), {}), ((nan,), {}), ((x[0],), {}), ((np.array([["a"] * 4]),), {}),
    ]:
        with pytest.raises((TypeError, ValueError)) as member:
            mcbridge.mc_predict(ens[0], *args, **kwargs)
        with pytest.raises(type(member.value)) as ensemble:
            mcbridge.mc_predict(ens, *args, **kwargs)
        assert str(ensemble.value) == str(member.value)


def test_mc_predict_ensemble_of_no_inputs_is_empty(ens, data):
    assert mcbridge.mc_predict(ens, data[0][:0]).samples.shape == (0, 3, 2)
    assert mcbridge.mc_predict(ens, data[0][:0], n_samples=3, seed=1).samples.shape == (0, 3, 6)


def test_train_ensemble_argument_errors(data):
    with pytest.raises(TypeError, match="Received: seed='1'"):
        mcbridge.train_ensemble(dense_builder(), *data, k=2, seed="1")
    with pytest.raises(ValueError, match="Received: seed=-1"):
        mcbridge.train_ensemble(dense_builder(), *data, k=2, seed=-1)
    with pytest.raises(TypeError, match="Received: progress=1"):
        mcbridge.train_ensemble(dense_builder(), *data, k=2, progress=1)


def test_mc_predict_ensemble_precision(ens, data):
    """float32 is accepted with n_samples=1; with n_samples > 1 the precision reaches each member's mc_predict."""
    import warnings

    x = data[0][:5]
    np.testing.assert_array_equal(mcbridge.mc_predict(ens, x, precision="float32").samples,
                                  mcbridge.mc_predict(ens, x).samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (a CPU without bfloat16 computes float32)
        result = mcbridge.mc_predict(ens, x, n_samples=3, seed=2, precision="bfloat16")
        seeds = _member_seeds(2, 2)
        for j, member in enumerate(ens):
            alone = mcbridge.mc_predict(member, x, n_samples=3, seed=seeds[j], precision="bfloat16")
            np.testing.assert_array_equal(result.samples[:, :, 3 * j : 3 * j + 3], alone.samples)


def test_ensemble_constructor_checks():
    with pytest.raises(TypeError, match="list of keras.Model"):
        Ensemble(dense_builder()())
    with pytest.raises(TypeError, match="keras.Model"):
        Ensemble([dense_builder()(), "model"])
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([])
    with pytest.raises(ValueError, match="same output shape"):
        Ensemble([dense_builder(3)(), dense_builder(2)()])


def test_save_and_load_is_one_file_with_a_manifest(ens, data, tmp_path):
    path = tmp_path / "model.ensemble"
    ens.save(path)
    assert os.listdir(tmp_path) == ["model.ensemble"]
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["ensemble.json", "member_0.keras", "member_1.keras"]
        manifest = json.loads(zf.read("ensemble.json"))
    assert manifest["format"] == "mcbridge.ensemble" and manifest["k"] == 2
    assert manifest["member_seeds"] == list(ens.member_seeds)
    back = mcbridge.load_ensemble(path)
    assert isinstance(back, Ensemble) and back.member_seeds == ens.member_seeds
    x = data[0]
    np.testing.assert_array_equal(mcbridge.mc_predict(back, x).samples, mcbridge.mc_predict(ens, x).samples)
    np.testing.assert_array_equal(
        mcbridge.mc_predict(back, x, n_samples=3, seed=1).samples,
        mcbridge.mc_predict(ens, x, n_samples=3, seed=1).samples,
    )


def test_save_leaves_no_partial_file_on_error(ens, tmp_path, monkeypatch):
    path = tmp_path / "model.ensemble"
    path.write_bytes(b"previous")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ens[1], "save", fail)
    with pytest.raises(OSError, match="disk full"):
        ens.save(path)
    assert os.listdir(tmp_path) == ["model.ensemble"] and path.read_bytes() == b"previous"


def test_load_uses_safe_mode(tmp_path):
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda t: t + 0.0, output_shape=(3,))(keras.layers.Dense(3, activation="softmax")(inputs))
    ens = Ensemble([keras.Model(inputs, outputs)])
    ens.save(tmp_path / "lambda.ensemble")
    with pytest.raises(ValueError, match="safe_mode"):
        mcbridge.load_ensemble(tmp_path / "lambda.ensemble")
    assert len(mcbridge.load_ensemble(tmp_path / "lambda.ensemble", safe_mode=False)) == 1


def test_load_refuses_what_is_not_an_ensemble(tmp_path):
    with pytest.raises(FileNotFoundError):
        mcbridge.load_ensemble(tmp_path / "missing")
    (tmp_path / "text").write_text("hello")
    with pytest.raises(ValueError, match="not a zip"):
        mcbridge.load_ensemble(tmp_path / "text")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as zf:
        zf.writestr("other.txt", "x")
    with pytest.raises(ValueError, match="no ensemble.json"):
        mcbridge.load_ensemble(tmp_path / "empty.zip")
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr("ensemble.json", json.dumps({"format": "mcbridge.ensemble", "format_version": 1,
                                                 "k": 1, "members": ["../evil.keras"]}))
    with pytest.raises(ValueError, match="damaged manifest"):
        mcbridge.load_ensemble(tmp_path / "bad.zip")


def test_regression_with_mc_dropout_inside_members(data):
    x = data[0][:6]
    regressors = Ensemble([dense_builder(2, None, dropout=0.5, loss="mse")() for _ in range(2)])
    result = mcbridge.mc_predict(regressors, x, n_samples=3, seed=2, task="regression")
    assert result.task == "regression" and result.samples.shape == (6, 2, 6)
    seeds = _member_seeds(2, 2)
    alone = mcbridge.mc_predict(regressors[1], x, n_samples=3, seed=seeds[1], task="regression")
    np.testing.assert_array_equal(result.samples[:, :, 3:], alone.samples)


def test_heteroscedastic_members_give_means_and_noise_variances(data):
    x = data[0][:6]
    members = Ensemble([dense_builder(4, None, loss="mse")() for _ in range(2)])  # 2 means, 2 log-variances
    with pytest.raises(ValueError, match="unless task='regression'"):
        mcbridge.mc_predict(members, x, heteroscedastic=True)
    result = mcbridge.mc_predict(members, x, task="regression", heteroscedastic=True)
    assert result.samples.shape == result.noise_variance.shape == (6, 2, 2)
    out = members[1].predict(x, batch_size=128, verbose=0)
    np.testing.assert_array_equal(result.samples[:, :, 1], out[:, :2])
    np.testing.assert_allclose(result.noise_variance[:, :, 1], np.exp(out[:, 2:]), rtol=1e-6)  # float32 exp
    with pytest.raises(ValueError, match="even number"):
        mcbridge.mc_predict(Ensemble([dense_builder(3, None)()]), x, task="regression", heteroscedastic=True)


def test_concurrent_ensemble_calls_give_sequential_bits_and_keep_the_switch(ens, data):
    """Threads predicting with one ensemble at once: deterministic members (their
    switch turned off for the call) and MC members give what they give alone,
    and every member's switch is as the user left it."""
    from concurrent.futures import ThreadPoolExecutor

    x = data[0]
    for member in ens:
        mcbridge.set_mc_dropout(member, True)
    calls = [dict(n_samples=1), dict(n_samples=3, seed=1), dict(n_samples=1), dict(n_samples=4, seed=2)] * 2
    alone = [mcbridge.mc_predict(ens, x, **kw).samples for kw in calls]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda kw: mcbridge.mc_predict(ens, x, **kw).samples, calls))
    for i, (a, b) in enumerate(zip(alone, together)):
        assert a.tobytes() == b.tobytes(), f"call {i} ({calls[i]}) differs when run concurrently"
    assert all(mcbridge.mc_dropout_enabled(member) for member in ens)


def test_deterministic_members_share_one_compiled_forward_and_match_predict(data):
    """n_samples=1: each member's prediction with its switch read as off, one trace for all members."""
    from mcbridge._engine import run

    x, y = data

    def build():  # an architecture of its own in this suite (5 hidden units)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"),
                                  mcbridge.MCDropout(0.5), keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    ens = mcbridge.train_ensemble(build, x, y, k=3, seed=3, progress=False)
    for member in ens:
        mcbridge.set_mc_dropout(member, True)  # on: the ensemble must still read it as off
    before = len(run._SHARED)
    result = mcbridge.mc_predict(ens, x, batch_size=10)  # 32 inputs: the last batch padded
    assert len(run._SHARED) == before + 1
    for j, member in enumerate(ens):
        with mcbridge.mc_dropout(member, False):
            np.testing.assert_allclose(result.samples[:, :, j], member.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
        assert mcbridge.mc_dropout_enabled(member)


# --------------------------------------------------------------------------
# members with several inputs, dense outputs and several outputs


def two_heads(dropout=0.5):
    """An image and a table in, a class head `(batch, 3)` and a regression head `(batch, 2)` out."""
    img, tab = keras.Input((4, 4, 1), name="img"), keras.Input((3,), name="tab")
    h = keras.layers.Concatenate()([keras.layers.Flatten()(img), tab])
    h = keras.layers.Dense(8, activation="relu")(h)
    if dropout:
        h = keras.layers.Dropout(dropout)(h)
    cls = keras.layers.Dense(3, activation="softmax", name="cls")(h)
    return keras.Model([img, tab], [cls, keras.layers.Dense(2, name="reg")(h)])


def segmenter(logits=False):
    """A per-pixel classifier: `(batch, 4, 4, 1)` in, `(batch, 4, 4, 3)` out."""
    return keras.Sequential([
        keras.Input((4, 4, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.SpatialDropout2D(0.5), keras.layers.Conv2D(3, 1, activation=None if logits else "softmax"),
    ])  # fmt: skip


@pytest.fixture
def xs():
    rng = np.random.default_rng(1)
    return [rng.random((6, 4, 4, 1), dtype=np.float32), rng.normal(size=(6, 3)).astype(np.float32)]


def test_several_inputs_and_outputs_one_deterministic_prediction_per_member(xs):
    ens = Ensemble([two_heads(), two_heads()])
    tasks = ["classification", "regression"]
    cls, reg = mcbridge.mc_predict(ens, xs, task=tasks)
    assert cls.task == "classification" and cls.samples.shape == (6, 3, 2)
    assert reg.task == "regression" and reg.samples.shape == (6, 2, 2)
    for j, member in enumerate(ens):
        want = member.predict(xs, verbose=0)
        np.testing.assert_allclose(cls.samples[..., j], want[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(reg.samples[..., j], want[1], rtol=1e-5, atol=1e-6)
    by_name = mcbridge.mc_predict(ens, {"tab": xs[1], "img": xs[0]}, task=tasks)
    assert all(a.samples.tobytes() == b.samples.tobytes() for a, b in zip(by_name, (cls, reg)))


def test_several_outputs_with_mc_dropout_give_each_members_seeded_bits(xs):
    tasks = ["classification", "regression"]
    member = two_heads()
    alone = mcbridge.mc_predict(member, xs, n_samples=3, seed=5, task=tasks)
    ens = mcbridge.mc_predict(Ensemble([member]), xs, n_samples=3, seed=5, task=tasks)
    assert ens[0].samples.shape == (6, 3, 3)
    seeded = mcbridge.mc_predict(member, xs, n_samples=3, seed=_member_seeds(5, 1)[0], task=tasks)
    for got, want in zip(ens, seeded):
        assert got.samples.tobytes() == want.samples.tobytes()
    assert not np.array_equal(alone[0].samples, ens[0].samples)  # (member j's seed is drawn from `seed`)
    two = Ensemble([member, two_heads()])
    first = mcbridge.mc_predict(two, xs, n_samples=3, seed=5, task=tasks)
    again = mcbridge.mc_predict(two, xs, n_samples=3, seed=5, task=tasks)
    assert [r.samples.shape for r in first] == [(6, 3, 6), (6, 2, 6)]
    assert all(a.samples.tobytes() == b.samples.tobytes() for a, b in zip(first, again))
    np.testing.assert_array_equal(first[1].samples[..., :3], seeded[1].samples)  # member-major
    assert first[0].variance.min() > 0


def test_members_are_matched_by_input_and_output_names():
    """A member built with its inputs and outputs in another order predicts the same heads from the same arrays."""
    a = two_heads()
    b = keras.Model([a.inputs[1], a.inputs[0]], [a.outputs[1], a.outputs[0]])  # the same layers, reordered
    rng = np.random.default_rng(3)
    xs = [rng.random((5, 4, 4, 1), dtype=np.float32), rng.normal(size=(5, 3)).astype(np.float32)]
    cls, reg = mcbridge.mc_predict(Ensemble([a, b]), xs, task=["classification", "regression"])
    np.testing.assert_array_equal(cls.samples[..., 0], cls.samples[..., 1])
    np.testing.assert_array_equal(reg.samples[..., 0], reg.samples[..., 1])
    by_name = {"img": xs[0], "tab": xs[1]}  # (a list would follow the first member's order: tab, img)
    hetero = mcbridge.mc_predict(Ensemble([b, a]), by_name, n_samples=2, seed=1,
                                 task=["regression", "classification"], heteroscedastic=[True, False])
    assert hetero[0].samples.shape == hetero[0].noise_variance.shape == (5, 1, 4)
    assert hetero[1].samples.shape == (5, 3, 4)


def test_dense_outputs_keep_their_maps_and_order_members(xs):
    x = xs[0]
    ens = Ensemble([segmenter(), segmenter()])
    det = mcbridge.mc_predict(ens, x)
    assert det.samples.shape == (6, 4, 4, 3, 2) and det.predictive_entropy().shape == (6, 4, 4)
    np.testing.assert_allclose(det.samples[..., 1], ens[1].predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    mc = mcbridge.mc_predict(ens, x, n_samples=4, seed=2, batch_size=4)
    assert mc.samples.shape == (6, 4, 4, 3, 8) and mc.mean.shape == (6, 4, 4, 3)
    seeds = _member_seeds(2, 2)
    for j, member in enumerate(ens):
        alone = mcbridge.mc_predict(member, x, n_samples=4, seed=seeds[j], batch_size=4)
        assert mc.samples[..., 4 * j : 4 * j + 4].tobytes() == alone.samples.tobytes()
    logits = Ensemble([segmenter(logits=True)])
    probs = mcbridge.mc_predict(logits, x, from_logits=True).samples[..., 0]
    z = logits[0].predict(x, verbose=0).astype(np.float64)
    np.testing.assert_allclose(probs, np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True), rtol=1e-5)
    with pytest.raises(ValueError, match="Member 1 .* not probabilities"):
        mcbridge.mc_predict(logits, x)


def test_train_ensemble_of_a_two_input_two_output_model(xs):
    def build():
        model = two_heads()
        model.compile(optimizer="adam", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"})
        return model

    y = {"cls": np.arange(6) % 3, "reg": np.zeros((6, 2), np.float32)}
    ens = mcbridge.train_ensemble(build, xs, y, k=2, seed=4, progress=False)
    cls, reg = mcbridge.mc_predict(ens, xs, task=["classification", "regression"])
    assert cls.samples.shape == (6, 3, 2) and reg.samples.shape == (6, 2, 2)


def test_members_that_disagree_or_bad_inputs_are_refused_before_predicting(xs, monkeypatch):
    from mcbridge import ensemble as ens_module

    with pytest.raises(ValueError, match=r"Member 2 .* 1 input\(s\) and 1 output\(s\) against 2 and 2"):
        Ensemble([two_heads(), segmenter()])
    with pytest.raises(ValueError, match="Member 2 .* differ in their output shapes"):
        Ensemble([segmenter(), keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 1)])])
    with pytest.raises(ValueError, match="Member 2 .* differ in their inputs"):
        Ensemble([segmenter(), keras.Sequential([keras.Input((5, 4, 1)), keras.layers.Conv2D(3, 1)])])
    with pytest.raises(ValueError, match="unknown size"):
        Ensemble([keras.Sequential([keras.Input((None, 1)), keras.layers.Dense(3)])])

    def never(*args, **kwargs):
        raise AssertionError("a member predicted before the arguments were checked")

    monkeypatch.setattr(ens_module, "deterministic_outputs", never)
    monkeypatch.setattr(ens_module, "mc_predict_model", never)
    ens = Ensemble([two_heads(), two_heads()])
    for x, kwargs, message in [
        (xs[0], {}, r"2 inputs \('img', 'tab'\): pass a list of 2 arrays"),
        ([xs[0], xs[1][:4]], {}, "same number of rows"),
        ({"img": xs[0]}, {}, r"missing \['tab'\]"),
        ([xs[0], xs[1][:, :2]], {}, r"x\['tab'\].*\(n, 3\)"),
        (xs, dict(task=["regression"]), "a list of 2"),
        (xs, dict(task="regression", heteroscedastic=[True, False]), "'cls'.*even number"),
    ]:
        with pytest.raises(ValueError, match=message):
            mcbridge.mc_predict(ens, x, n_samples=2, **kwargs)
    a = two_heads()  # the same inputs under other names: a list only
    img, tab = keras.Input((4, 4, 1), name="image"), keras.Input((3,), name="table")
    renamed = keras.Model([img, tab], a([img, tab]))
    with pytest.raises(ValueError, match="name their inputs differently.*list of 2 arrays"):
        mcbridge.mc_predict(Ensemble([a, renamed]), {"img": xs[0], "tab": xs[1]})
