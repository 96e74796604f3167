"""Adaptive sampling (`tolerance=`) and the Monte Carlo standard error of the summaries."""

import keras
import numpy as np
import pytest

import mcbridge
from mcbridge._engine.plan import ChunkPlan
from mcbridge._engine.run import run_chunks
from mcbridge._predict_model import _sampler_for


@pytest.fixture(scope="module")
def model():
    return mcbridge.build_cnn(input_shape=(12, 12, 1), n_classes=4, filters=(4, 8), dense_units=16,
                              padding="same", seed=3)


@pytest.fixture(scope="module")
def x():
    x = np.random.default_rng(0).random((40, 12, 12, 1)).astype("float32")
    x[:20] *= 6  # far from anything: some inputs are surer than others
    return x


@pytest.mark.numeric  # (bits across row positions: rerun with the kernels capped at AVX2)
def test_inputs_stop_when_their_error_is_small_with_the_bits_of_a_fixed_run(model, x):
    fixed = run_chunks(_sampler_for(model), ChunkPlan(40, 60, 16, 10), x, 4, False)  # the same chunk shape
    # a tolerance between the inputs' errors after 10 and after 60 samples
    tol = float(np.median(mcbridge.MCResult(fixed[:, :, :10]).mc_standard_error().max(axis=1)))
    r = mcbridge.mc_predict(model, x, n_samples=60, seed=4, tolerance=tol, min_samples=10, batch_size=16)
    assert r.n_used.shape == (40,) and set(np.unique(r.n_used)) <= set(range(10, 61, 10))
    assert len(np.unique(r.n_used)) > 2  # the inputs got different counts
    for i, used in enumerate(r.n_used):
        np.testing.assert_array_equal(r.samples[i, :, :used], fixed[i, :, :used])  # the first n_used samples
        assert np.isnan(r.samples[i, :, used:]).all()
    error = r.mc_standard_error().max(axis=1)
    assert np.all(error[r.n_used < 60] <= tol)  # stopped: small enough
    for i, used in enumerate(r.n_used):  # and not before: one round earlier the error was larger
        if used > 10:
            assert mcbridge.MCResult(fixed[i : i + 1, :, : used - 10]).mc_standard_error().max() > tol
    # every measure uses each input's own samples
    for i in (0, 39):
        own = mcbridge.MCResult(fixed[i : i + 1, :, : r.n_used[i]])
        np.testing.assert_allclose(r.mean[i], own.mean[0])
        np.testing.assert_allclose(r.variance[i], own.variance[0])
        np.testing.assert_allclose(r.mutual_information()[i], own.mutual_information()[0])
        np.testing.assert_allclose(mcbridge.metrics.predictive_entropy(r)[i], own.predictive_entropy()[0])
    y = r.predicted_class
    assert mcbridge.evaluate(r, y)["accuracy"] == 1.0


@pytest.mark.parametrize("measure", ["mean", "predictive_entropy", "mutual_information"])
def test_standard_error_matches_the_spread_over_seeds(model, x, measure):
    runs = [mcbridge.mc_predict(model, x[:16], n_samples=40, seed=s) for s in range(30)]

    def estimate(r):
        return r.mean if measure == "mean" else getattr(r, measure)()

    spread = np.stack([estimate(r) for r in runs]).std(axis=0, ddof=1)  # over seeds
    reported = np.stack([r.mc_standard_error(measure) for r in runs]).mean(axis=0)
    ratio = np.sqrt(np.mean(reported**2) / np.mean(spread**2))
    assert 0.8 <= ratio <= 1.2, ratio


def test_adaptive_arguments_are_checked(model, x):
    with pytest.raises(ValueError, match="`tolerance`"):
        mcbridge.mc_predict(model, x, n_samples=20, tolerance=0)
    with pytest.raises(TypeError, match="`tolerance`"):
        mcbridge.mc_predict(model, x, n_samples=20, tolerance="0.01")
    with pytest.raises(ValueError, match=r"`min_samples`. Expected at most n_samples \(20\)"):
        mcbridge.mc_predict(model, x, n_samples=20, tolerance=0.01, min_samples=30)
    with pytest.raises(ValueError, match="`measure`"):
        mcbridge.MCResult(np.full((2, 2, 3), 0.5)).mc_standard_error("entropy")
    drop_connect = keras.Sequential([keras.Input((4,)), mcbridge.DropConnectDense(3, rate=0.3, activation="softmax")])
    with pytest.raises(ValueError, match="DropConnect.*tolerance=None"):
        mcbridge.mc_predict(drop_connect, np.zeros((2, 4), "float32"), n_samples=20, tolerance=0.01)


def test_streaming_refuses_adaptive_dropconnect_too(tmp_path):
    drop_connect = keras.Sequential([keras.Input((4,)), mcbridge.DropConnectDense(3, rate=0.3, activation="softmax")])
    with pytest.raises(ValueError, match="DropConnect.*tolerance=None"):
        mcbridge.predict_to_file(drop_connect, np.zeros((2, 4), "float32"), tmp_path / "p.parquet", n_samples=20,
                                 tolerance=0.01, progress=False)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_predict_to_file_samples_adaptively_with_the_counts_of_mc_predict(model, x, tmp_path):
    import pyarrow.parquet as pq

    fixed = mcbridge.mc_predict(model, x, n_samples=40, seed=2)
    tol = float(np.median(fixed.mc_standard_error().max(axis=1)))
    r = mcbridge.mc_predict(model, x, n_samples=40, seed=2, tolerance=tol, batch_size=16)
    path = mcbridge.predict_to_file(model, x, tmp_path / "a.parquet", n_samples=40, seed=2, tolerance=tol,
                                    batch_size=16, progress=False)
    table = pq.read_table(path)
    np.testing.assert_array_equal(table["n_used"].to_numpy(), r.n_used)
    np.testing.assert_allclose(table["mutual_information"].to_numpy(), r.mutual_information(), rtol=1e-4, atol=1e-6)
    assert table.schema.metadata[b"mcbridge.tolerance"] == repr(tol).encode()


def _settled(samples, margin):
    """Independent check of the class rule on one input's `(classes, count)` samples."""
    samples = samples.astype(np.float64)
    mean = samples.mean(axis=-1)
    error = samples.std(axis=-1, ddof=1) / np.sqrt(samples.shape[-1])
    first, second = np.argsort(mean)[::-1][:2]
    return mean[first] - mean[second] > margin * (error[first] + error[second])


@pytest.mark.numeric  # (bits across row positions: rerun with the kernels capped at AVX2)
def test_class_margin_stops_each_input_once_its_class_is_settled(model, x, tmp_path):
    fixed = run_chunks(_sampler_for(model), ChunkPlan(40, 60, 16, 10), x, 4, False)  # the same chunk shape
    r = mcbridge.mc_predict(model, x, n_samples=60, seed=4, class_margin=2, min_samples=10, batch_size=16)
    assert len(np.unique(r.n_used)) > 2  # the inputs got different counts
    for i, used in enumerate(r.n_used):
        np.testing.assert_array_equal(r.samples[i, :, :used], fixed[i, :, :used])  # a fixed run's first samples
        assert np.isnan(r.samples[i, :, used:]).all()
        if used < 60:
            assert _settled(r.samples[i, :, :used], 2)  # stopped: settled
        if used > 10:
            assert not _settled(r.samples[i, :, : used - 10], 2)  # and not a round earlier
    # the same counts from predict_to_file, with the rule in the file's metadata
    import pyarrow.parquet as pq

    path = mcbridge.predict_to_file(model, x, tmp_path / "c.parquet", n_samples=60, seed=4, class_margin=2,
                                    batch_size=16, progress=False)
    table = pq.read_table(path)
    np.testing.assert_array_equal(table["n_used"].to_numpy(), r.n_used)
    assert table.schema.metadata[b"mcbridge.class_margin"] == b"2.0"


def test_class_margin_arguments_are_checked(model, x):
    with pytest.raises(ValueError, match="`class_margin`"):
        mcbridge.mc_predict(model, x, n_samples=20, class_margin=-1)
    with pytest.raises(TypeError, match="`class_margin`"):
        mcbridge.mc_predict(model, x, n_samples=20, class_margin="2")
    with pytest.raises(ValueError, match="Give one stopping rule"):
        mcbridge.mc_predict(model, x, n_samples=20, tolerance=0.01, class_margin=2)
    with pytest.raises(ValueError, match="class_margin needs a classification output"):
        mcbridge.mc_predict(model, x, n_samples=20, class_margin=2, task="regression")


def test_class_margin_on_a_dense_output_waits_for_every_position():
    """A segmentation-like output: an input stops only when the class of each of its positions is settled."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((2, 2, 2)), keras.layers.Conv2D(8, 1, activation="relu"),
                              keras.layers.SpatialDropout2D(0.2), keras.layers.Conv2D(3, 1, activation="softmax")])
    x = np.random.default_rng(1).normal(size=(12, 2, 2, 2)).astype("float32")
    x[:6] *= 6  # surer inputs
    r = mcbridge.mc_predict(model, x, n_samples=40, seed=6, class_margin=2, min_samples=8, batch_size=4)
    assert r.samples.shape == (12, 2, 2, 3, 40) and len(np.unique(r.n_used)) > 1
    positions = [(a, b) for a in range(2) for b in range(2)]
    for i, used in enumerate(r.n_used):
        if used < 40:
            assert all(_settled(r.samples[i, a, b, :, :used], 2) for a, b in positions)
        if used > 8:
            assert not all(_settled(r.samples[i, a, b, :, : used - 8], 2) for a, b in positions)
