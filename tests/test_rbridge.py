"""mcbridge._rbridge, the Python half of the R bridge, tested without R.

R's side of each call is played here: structs allocated with ctypes (as R's
nanoarrow allocates them), inputs exported into them with mcbridge.arrow, and
results imported back from the structs the bridge filled.
"""

import ctypes

import keras
import numpy as np
import pytest

import mcbridge
from mcbridge import _rbridge, arrow

# sizeof(struct ArrowArray) and sizeof(struct ArrowSchema) on 64-bit platforms.
_ARRAY_BYTES, _SCHEMA_BYTES = 80, 72


class Structs:
    """An empty ArrowArray / ArrowSchema pair; `addr` as R passes it (strings)."""

    def __init__(self):
        self._a = ctypes.create_string_buffer(_ARRAY_BYTES)
        self._s = ctypes.create_string_buffer(_SCHEMA_BYTES)
        self.addr = [str(ctypes.addressof(self._a)), str(ctypes.addressof(self._s))]

    def take(self):
        return arrow.import_from_c(*self.addr)


def exported(obj):
    """`obj` exported into fresh structs, as R's .arrow_export_c() does."""
    s = Structs()
    arrow.export_to_c(obj, *s.addr)
    return s


def r_images(n=5, seed=0):
    """`(n, 8, 8)` float32 images in R's (Fortran) order, no channel axis."""
    return np.asfortranarray(np.random.default_rng(seed).random((n, 8, 8), dtype=np.float32))


def call_predict(model, x, **kw):
    args = dict(n_samples=4, batch_size=3, seed=7, from_logits=False,
                memory_budget=float(256 * 2**20), task="classification",
                heteroscedastic=False, precision="float32", progress=False)  # fmt: skip
    args.update(kw)
    out, xs = Structs(), exported(x)  # both kept alive over the call, as R does
    answer = _rbridge.predict(model, xs.addr, [out.addr], **args)
    return answer, out


def test_predict_is_one_call_and_bit_identical_to_mc_predict(cnn):
    x = r_images()
    before = sum(_rbridge.calls.values())
    answer, out = call_predict(cnn, x)
    assert sum(_rbridge.calls.values()) - before == 1
    assert answer["value"]["shapes"] == [[5, 3, 4]]
    assert answer["value"]["names"] == mcbridge._checks.output_names(cnn)
    res = out.take()
    assert isinstance(res, mcbridge.MCResult)
    ref = mcbridge.mc_predict(cnn, np.ascontiguousarray(x)[..., None], n_samples=4,
                              batch_size=3, seed=7)  # fmt: skip
    assert res.samples.tobytes(order="F") == ref.samples.tobytes(order="F")


def test_import_array_reads_rs_buffer_in_place():
    x = r_images()
    s = exported(x)
    view = _rbridge.import_array(*s.addr)
    assert view.flags.f_contiguous and not view.flags.owndata
    np.testing.assert_array_equal(view, x)


def test_wrong_shape_is_an_input_error_in_rs_words(cnn):
    answer, _ = call_predict(cnn, r_images()[:, :7, :])
    assert answer["error"] == "input"
    assert answer["message"].startswith(
        "`x` has dim c(5, 7, 8, 1) but the model expects c(n, 8, 8, 1) (or c(n, 8, 8) for one channel)"
    )


def test_engine_value_errors_come_back_as_python_errors():
    logits = keras.Sequential(
        [keras.Input((8, 8)), keras.layers.Flatten(), keras.layers.Dropout(0.5), keras.layers.Dense(3)]
    )
    answer, _ = call_predict(logits, r_images())
    assert answer["error"] == "python"
    assert answer["message"].startswith("ValueError: The model's outputs are not probabilities")
    assert "from_logits = TRUE" in answer["message"]  # R's spelling, not from_logits=True
    answer, out = call_predict(logits, r_images(), from_logits=True)
    assert "error" not in answer
    np.testing.assert_allclose(out.take().samples.sum(axis=1), 1, atol=1e-5)


def test_messages_and_warnings_reach_r_in_rs_spelling():
    softmax = keras.Sequential(
        [keras.Input((8, 8)), keras.layers.Flatten(), keras.layers.Dropout(0.5),
         keras.layers.Dense(3, activation="softmax")]
    )  # fmt: skip
    answer, _ = call_predict(softmax, r_images(), from_logits=True)
    said = " ".join(answer["warnings"])
    assert "from_logits = TRUE" in said and "from_logits = FALSE" in said
    assert "=True" not in said and "=False" not in said
    text = _rbridge._r_text("(x = x.astype('float32') / 255); pass precision='float32' or task='regression'")
    assert text == '(x = x / 255); pass precision = "float32" or task = "regression"'


def test_real_valued_targets_cross_for_a_regression_model_only(cnn):
    x, x2 = exported(r_images(4)), exported(r_images(4))  # an export is imported once
    real, negative = exported(np.array([0.0, 1.5, 2.0, 1.0])), exported(np.array([0.0, -1.0, 2.0, 1.0]))
    answer = _rbridge.train_on_batch(cnn, x.addr, real.addr)
    assert answer["error"] == "input" and "real values (e.g. 1.5)" in answer["message"]
    answer = _rbridge.train_on_batch(cnn, x2.addr, negative.addr)
    assert answer["error"] == "input" and "1 negative labels" in answer["message"]
    from mcbridge.models import build_mlp

    reg = build_mlp(input_dim=3, n_outputs=1, task="regression", seed=0)
    xt = exported(np.asfortranarray(np.random.default_rng(1).random((4, 3), dtype=np.float32)))
    yt = exported(np.array([0.5, 1.5, -2.25, 3.0]))
    answer = _rbridge.train_on_batch(reg, xt.addr, yt.addr)
    assert set(answer["value"]) == {"loss", "mean_absolute_error"}


def labels(values):
    return exported(np.asarray(values, dtype=np.int32))


def test_labels_beyond_the_classes_are_an_input_error(cnn):
    x, y = exported(r_images(4)), labels([0, 1, 3, 7])
    answer = _rbridge.train_on_batch(cnn, x.addr, y.addr)
    assert answer["error"] == "input"
    assert "holds class codes up to 7, but the model has 3 classes (codes 0..2); 2 labels" in answer["message"]


def test_fit_reports_each_epoch_to_r(cnn):
    seen = []
    x, y = exported(r_images(6)), labels([0, 1, 2, 0, 1, 2])
    answer = _rbridge.fit(cnn, x.addr, y.addr, 3, 2, 0.0, 0, lambda *a: seen.append(a))
    assert [s[:2] for s in seen] == [(1, 2), (2, 2)]
    assert set(seen[0][2]) == {"loss", "accuracy"}
    assert all(type(v) is float for v in seen[0][2].values())
    assert answer["value"]["loss"] == [s[2]["loss"] for s in seen]


class Interrupt(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 1:
            raise KeyboardInterrupt


def test_interrupted_fit_leaves_weights_and_optimizer_as_they_were(cnn):
    x, y = exported(r_images(12)), labels([0, 1, 2] * 4)
    _rbridge.fit(cnn, x.addr, y.addr, 4, 1, 0.0, 0)  # builds the optimizer
    weights = [np.array(v) for v in cnn.weights]
    opt = [np.array(v) for v in cnn.optimizer.variables]
    x, y = exported(r_images(12)), labels([0, 1, 2] * 4)
    with pytest.raises(KeyboardInterrupt):
        _rbridge.fit(cnn, x.addr, y.addr, 4, 3, 0.0, 0, None, [Interrupt()])
    for v, w in zip(cnn.weights, weights):
        np.testing.assert_array_equal(np.array(v), w)
    for v, w in zip(cnn.optimizer.variables, opt):
        np.testing.assert_array_equal(np.array(v), w)


def test_load_model_errors_are_model_errors(tmp_path):
    answer = _rbridge.load_model(str(tmp_path / "missing.keras"))
    assert answer["error"] == "model" and answer["message"].startswith("Cannot load")


def test_dataset_exports_four_arrays_in_one_call():
    outs = {k: Structs() for k in ("x_train", "y_train", "x_test", "y_test")}
    before = _rbridge.calls["dataset"]
    assert _rbridge.dataset("digits", None, {k: s.addr for k, s in outs.items()}) == {"value": None}
    assert _rbridge.calls["dataset"] == before + 1
    x_train, y_train = outs["x_train"].take(), outs["y_train"].take()
    assert x_train.shape == (1438, 8, 8) and y_train.dtype == np.int32
    (ref, _), _ = mcbridge.datasets.load_digits(normalize=False)
    np.testing.assert_array_equal(x_train, ref[..., 0])
    assert _rbridge.dataset("fashion_mnist", "/nonexistent", {})["error"] == "input"


def test_build_cnn_passes_r_lists_as_tuples():
    answer = _rbridge.build_cnn(input_shape=[8, 8, 1], n_classes=3, filters=[4], kernel_size=3,
                                dense_units=0, dropout=[0.1, 0.2], padding="same", seed=1)  # fmt: skip
    assert isinstance(answer["value"], keras.Model)
    assert answer["value"].output_shape == (None, 3)


def test_progress_reaches_r_throttled_and_ends_at_the_total(cnn, monkeypatch):
    import keras as k

    original = k.utils.Progbar
    seen = []
    monkeypatch.setattr(_rbridge, "PROGRESS_INTERVAL", 0.0)
    answer, out = call_predict(cnn, r_images(6), batch_size=2, memory_budget=1.0,
                               progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert "error" not in answer
    assert seen[-1][0] == seen[-1][1] > 1
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert k.utils.Progbar is original  # put back
    seen.clear()
    monkeypatch.setattr(_rbridge, "PROGRESS_INTERVAL", 3600.0)
    call_predict(cnn, r_images(6), batch_size=2, memory_budget=1.0,
                 progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert len(seen) == 2 and seen[-1][0] == seen[-1][1]  # the first report and the last
    # progress=False: mc_predict draws nothing, R gets nothing
    answer, _ = call_predict(cnn, r_images(6), progress=False)
    assert "error" not in answer


def test_predict_exports_the_noise_variance_of_a_heteroscedastic_model():
    inputs = keras.Input((8, 8))
    h = keras.layers.Dropout(0.3)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(4)(h))  # 2 means, then 2 log-variances
    noise = Structs()
    answer, out = call_predict(model, r_images(), task="regression", heteroscedastic=True,
                               noise_out=[noise.addr])
    assert answer["value"]["shapes"] == [[5, 2, 4]]
    res = out.take()
    ref = mcbridge.mc_predict(model, np.ascontiguousarray(r_images()), n_samples=4, batch_size=3,
                              seed=7, task="regression", heteroscedastic=True)
    assert res.samples.tobytes(order="F") == ref.samples.tobytes(order="F")
    np.testing.assert_array_equal(noise.take(), ref.noise_variance)


def two_input_two_output_model():
    """Inputs "image" (8, 8) and "table" (5,); outputs "label" (3 classes) and a dense map "map" (8, 8, 2)."""
    keras.utils.set_random_seed(3)
    image, table = keras.Input((8, 8), name="image"), keras.Input((5,), name="table")
    h = keras.layers.Concatenate()([keras.layers.Flatten()(image), table])
    h = keras.layers.Dropout(0.4)(keras.layers.Dense(8, activation="relu")(h))
    label = keras.layers.Dense(3, activation="softmax", name="label")(h)
    grid = keras.layers.Reshape((8, 8, 1))(keras.layers.Dense(64)(h))
    mapped = keras.layers.Conv2D(2, 1, activation="softmax", name="map")(grid)
    return keras.Model([image, table], [label, mapped])


def call_predict_several(model, arrays, names=None, n_out=2, **kw):
    args = dict(n_samples=4, batch_size=3, seed=7, from_logits=False,
                memory_budget=float(256 * 2**20), task="classification",
                heteroscedastic=False, precision="float32", progress=False)  # fmt: skip
    args.update(kw)
    xs = [exported(a) for a in arrays]
    outs = [Structs() for _ in range(n_out)]
    used = Structs() if kw.get("tolerance") is not None else None
    answer = _rbridge.predict(model, {"arrays": [x.addr for x in xs], "names": names},
                              [o.addr for o in outs], used_out=used and used.addr, **args)  # fmt: skip
    return answer, outs, used


def test_predict_takes_several_inputs_by_order_or_name_and_exports_every_output():
    model = two_input_two_output_model()
    image, table = r_images(5), np.asfortranarray(np.random.default_rng(1).random((5, 5), dtype=np.float32))
    answer, outs, _ = call_predict_several(model, [image, table])
    assert answer["value"] == {"shapes": [[5, 3, 4], [5, 8, 8, 2, 4]], "names": ["label", "map"]}
    ref = mcbridge.mc_predict(model, [np.ascontiguousarray(image), np.ascontiguousarray(table)],
                              n_samples=4, batch_size=3, seed=7)  # fmt: skip
    label, dense = outs[0].take(), outs[1].take()
    assert isinstance(label, mcbridge.MCResult) and isinstance(dense, np.ndarray)  # a dense map crosses as an array
    assert label.samples.tobytes(order="F") == ref[0].samples.tobytes(order="F")
    assert dense.shape == (5, 8, 8, 2, 4) and dense.tobytes(order="F") == ref[1].samples.tobytes(order="F")
    # by name, in any order: the same bits
    answer, outs, _ = call_predict_several(model, [table, image], names=["table", "image"])
    assert outs[1].take().tobytes(order="F") == ref[1].samples.tobytes(order="F")
    # one task per output
    answer, outs, _ = call_predict_several(model, [image, table], task=["classification", "regression"])
    assert "error" not in answer


def test_several_inputs_that_do_not_match_the_model_are_input_errors_in_rs_words():
    model = two_input_two_output_model()
    image, table = r_images(5), np.zeros((5, 5), dtype=np.float32, order="F")
    answer, _, _ = call_predict_several(model, [image])
    assert answer["error"] == "input" and "list of 1 arrays but the model has 2 inputs" in answer["message"]
    answer, _, _ = call_predict_several(model, [image, table], names=["image", "tabel"])
    assert answer["error"] == "input"
    assert 'lacks "table"' in answer["message"] and 'has "tabel"' in answer["message"]
    answer, _, _ = call_predict_several(model, [image, np.zeros((5, 4), np.float32, order="F")])
    assert answer["error"] == "input" and "`x[[2]]` has dim c(5, 4)" in answer["message"]


def test_adaptive_predict_exports_n_used_and_the_padded_samples(cnn):
    x = r_images(6)
    args = dict(n_samples=30, tolerance=0.03, min_samples=5)
    answer, outs, used = call_predict_several(cnn, [x], n_out=1, **args)
    assert "error" not in answer
    ref = mcbridge.mc_predict(cnn, np.ascontiguousarray(x)[..., None], batch_size=3, seed=7, **args)
    counts = used.take()
    assert counts.dtype == np.int32 and counts.tolist() == ref.n_used.tolist()
    samples = outs[0].take()  # padded with NaN: crosses as a plain array
    assert isinstance(samples, np.ndarray)
    assert samples.tobytes(order="F") == ref.samples.tobytes(order="F")


# deep ensembles ---------------------------------------------------------------

_CNN = dict(input_shape=[8, 8, 1], n_classes=3, filters=[4], kernel_size=3, dense_units=0,
            dropout=[0.1, 0.2], padding="same", seed=None)  # fmt: skip


def train_r_ensemble(k=2, seed=5, build=None, progress=None, y=(0, 1, 2, 0, 1, 2)):
    x, yy = exported(r_images(6)), labels(list(y))
    return _rbridge.train_ensemble(build, None if build else _CNN, x.addr, yy.addr, k, 1, 3, seed, progress)


def test_train_ensemble_is_one_call_and_reports_one_line_per_member():
    lines = []
    before = sum(_rbridge.calls.values())
    answer = train_r_ensemble(progress=lines.append)
    assert sum(_rbridge.calls.values()) - before == 1
    info = answer["value"]
    assert isinstance(info["ensemble"], mcbridge.Ensemble)
    assert (info["k"], info["input_shape"], info["outputs"]) == (2, [8, 8, 1], 3)
    assert [line.split(":")[0] for line in lines] == ["Ensemble member 1/2", "Ensemble member 2/2"]


def test_train_ensemble_with_a_builder_and_bad_labels():
    built = []

    def build():
        model = mcbridge.build_cnn(**{**_CNN, "input_shape": (8, 8, 1), "filters": (4,), "dropout": (0.1, 0.2)})
        built.append(model)
        return model

    answer = train_r_ensemble(k=2, build=build)
    assert len(built) == 3  # one probe for the input shape, then one per member
    assert [m is b for m, b in zip(answer["value"]["ensemble"], built[1:])] == [True, True]
    answer = train_r_ensemble(y=(0, 1, 2, 0, 1, 5))
    assert answer["error"] == "input" and "up to 5, but the model has 3 classes" in answer["message"]
    answer = train_r_ensemble(build=lambda: "not a model")
    assert answer["error"] == "model" and "`build` must return a compiled Keras model" in answer["message"]


def test_ensemble_predict_save_load_through_the_bridge(tmp_path):
    ens = train_r_ensemble()["value"]["ensemble"]
    x = r_images(4)
    answer, out = call_predict(ens, x, n_samples=1, progress=lambda *a: None)
    assert answer["value"]["shapes"] == [[4, 3, 2]]
    ref = mcbridge.mc_predict(ens, np.ascontiguousarray(x)[..., None], batch_size=3)
    assert out.take().samples.tobytes(order="F") == ref.samples.tobytes(order="F")
    answer, out = call_predict(ens, x, n_samples=3, seed=4)
    ref = mcbridge.mc_predict(ens, np.ascontiguousarray(x)[..., None], n_samples=3, seed=4, batch_size=3)
    assert answer["value"]["shapes"] == [[4, 3, 6]]
    assert out.take().samples.tobytes(order="F") == ref.samples.tobytes(order="F")
    path = str(tmp_path / "e.ensemble")
    assert _rbridge.save_ensemble(ens, path) == {"value": None}
    loaded = _rbridge.load_ensemble(path)["value"]
    assert loaded["k"] == 2 and loaded["input_shape"] == [8, 8, 1]
    again = mcbridge.mc_predict(loaded["ensemble"], np.ascontiguousarray(x)[..., None])
    assert again.samples.tobytes() == mcbridge.mc_predict(ens, np.ascontiguousarray(x)[..., None]).samples.tobytes()
    assert _rbridge.load_ensemble(str(tmp_path / "missing"))["error"] == "model"
    assert _rbridge.save_ensemble(ens, str(tmp_path / "no" / "dir" / "e"))["error"] == "io"


def test_predict_to_file_is_one_call_and_writes_what_python_writes(cnn, tmp_path):
    import pyarrow as pa

    x = r_images(n=7)
    xs = exported(x)
    seen = []
    before = sum(_rbridge.calls.values())
    answer = _rbridge.predict_to_file(cnn, xs.addr, str(tmp_path / "r.arrow"), 4, 3, 5, True,
                                      float(256 * 2**20), "float32", lambda *a: seen.append(a))
    assert sum(_rbridge.calls.values()) - before == 1
    assert answer == {"value": str(tmp_path / "r.arrow")}
    assert seen[-1] == (7, 7)
    c_order = np.ascontiguousarray(x)[..., None]
    np.save(tmp_path / "x.npy", c_order)
    from_npy = _rbridge.predict_to_file(cnn, str(tmp_path / "x.npy"), str(tmp_path / "n.arrow"), 4, 3, 5,
                                        True, 1e9, "float32", False)
    assert from_npy == {"value": str(tmp_path / "n.arrow")}
    mcbridge.predict_to_file(cnn, c_order, tmp_path / "p.arrow", n_samples=4, batch_size=3, seed=5,
                             keep_samples=True)

    def read(name):
        with pa.memory_map(str(tmp_path / name)) as source:
            return pa.ipc.open_stream(source).read_all()

    assert read("r.arrow").equals(read("p.arrow"))
    assert read("n.arrow").equals(read("p.arrow"))


def test_predict_to_file_takes_tolerance_and_writes_what_python_writes(cnn, tmp_path):
    import pyarrow as pa

    x = r_images(n=6)
    xs = exported(x)
    answer = _rbridge.predict_to_file(cnn, xs.addr, str(tmp_path / "r.arrow"), 30, 3, 5, False,
                                      float(256 * 2**20), "float32", False, 0.03, 5)  # fmt: skip
    assert "error" not in answer
    mcbridge.predict_to_file(cnn, np.ascontiguousarray(x)[..., None], tmp_path / "p.arrow", n_samples=30,
                             batch_size=3, seed=5, tolerance=0.03, min_samples=5)  # fmt: skip

    def read(name):
        with pa.memory_map(str(tmp_path / name)) as source:
            return pa.ipc.open_stream(source).read_all()

    r = read("r.arrow")
    assert "n_used" in r.column_names and r.equals(read("p.arrow"))


def test_predict_to_file_bad_path_is_a_python_error_and_leaves_no_file(cnn, tmp_path):
    xs = exported(r_images(n=2))
    answer = _rbridge.predict_to_file(cnn, xs.addr, str(tmp_path / "out.csv"), 4, 3, 5, False, 1e9, "float32",
                                      False)
    assert answer["error"] == "python" and "`path`" in answer["message"]
    wrong = exported(np.zeros((2, 5, 5), dtype=np.float32, order="F"))
    answer = _rbridge.predict_to_file(cnn, wrong.addr, str(tmp_path / "out.arrow"), 4, 3, 5, False, 1e9,
                                      "float32", False)
    assert answer["error"] == "input"
    assert list(tmp_path.iterdir()) == []
