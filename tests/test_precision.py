"""mc_predict(..., precision="bfloat16"): statistical agreement with float32, bits, warnings."""

import os
import warnings

import keras
import numpy as np
import pytest

import mcbridge
from mcbridge import predict
from mcbridge._engine import plan
from mcbridge._engine.plan import bfloat16_instructions
from conftest import plain_keras_model



def _cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.split(":")[0].strip().lower() in ("flags", "features"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@pytest.fixture
def bf16(monkeypatch):
    """Runs bfloat16 numerics on this CPU: with its bfloat16 instructions, or
    emulated by oneDNN where it has AVX-512 but not those (mc_predict itself
    computes float32 there); oneDNN refuses bfloat16 convolutions on AVX2 only."""
    if not bfloat16_instructions():
        cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
        if "avx512f" not in _cpu_flags() or not any(isa in cap for isa in ("AVX512", "AMX", "AVX10", "ALL", "DEFAULT")):
            pytest.skip("no bfloat16 instructions nor AVX-512 to emulate them: bfloat16 cannot run here")
        monkeypatch.setattr(plan, "bfloat16_instructions", lambda: ["emulated"])


def _residual_model():
    """A functional graph that is not a chain (a skip connection around the dropout)."""
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(inputs)
    d = keras.layers.Dropout(0.3)(h)
    h = keras.layers.Add()([keras.layers.Conv2D(6, 3, padding="same")(d), h])
    h = keras.layers.Flatten()(h)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(16, activation="relu")(h))
    return keras.Model(inputs, outputs)


def _agreement(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
    # Same seed, same chunking: the same dropout masks in both precisions, so
    # each sample differs only by bfloat16 rounding (8 significant bits, about
    # 0.4% per rounding, through a few layers): well under 0.05 in probability.
    assert np.max(np.abs(a - b)) < 0.05
    assert not np.array_equal(a, b)  # bfloat16 did run
    # The MC means agree within Monte Carlo error (the criterion:
    # fewer than 0.5% of (input, class) cells beyond 4 standard errors).
    se = np.sqrt(a.var(-1, ddof=1) / a.shape[-1] + b.var(-1, ddof=1) / b.shape[-1])
    z = np.abs(a.mean(-1) - b.mean(-1)) / np.maximum(se, 1e-6)
    assert np.mean(z > 4) < 0.005
    # bfloat16 probabilities still sum to 1 per sample (the output layer runs in float32).
    np.testing.assert_allclose(b.sum(axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("make", [
    # Valid padding: the crop and the fused first dropout + max-pool run too.
    lambda: mcbridge.build_cnn(input_shape=(12, 12, 1), n_classes=3, filters=(4, 8), dense_units=16, seed=1),
    lambda: plain_keras_model(),
    _residual_model,
], ids=["seed_cnn", "functional_chain", "general_graph"])
def test_bfloat16_agrees_with_float32_within_mc_error(make, bf16):
    model = make()
    x = np.random.default_rng(0).random((24, *model.inputs[0].shape[1:]), dtype=np.float32)
    f32 = mcbridge.mc_predict(model, x, n_samples=40, seed=3, batch_size=8).samples
    bf16 = mcbridge.mc_predict(model, x, n_samples=40, seed=3, batch_size=8, precision="bfloat16").samples
    _agreement(f32, bf16)


def test_same_seed_same_bits_per_precision(cnn, x_small, bf16):
    runs = [mcbridge.mc_predict(cnn, x_small, n_samples=9, seed=5, precision=p).samples
            for p in ("bfloat16", "float32", "bfloat16", "float32")]
    np.testing.assert_array_equal(runs[0], runs[2])
    np.testing.assert_array_equal(runs[1], runs[3])
    assert runs[0].dtype == np.float32


def test_casts_fused_into_the_mask_kernels_change_no_bits(bf16, monkeypatch):
    # Dropouts next to bfloat16 layers (conv -> dropout -> conv, dropout ->
    # flatten -> dense) cast in their mask kernel: the same bits as casting
    # in passes of their own.
    from mcbridge._engine import run

    x = np.random.default_rng(1).random((10, 12, 12, 1), dtype=np.float32)
    make = lambda: mcbridge.build_cnn(input_shape=(12, 12, 1), n_classes=3, filters=(4, 8), dense_units=16, seed=2)
    fused = mcbridge.mc_predict(make(), x, n_samples=7, seed=4, precision="bfloat16").samples
    monkeypatch.setattr(run, "_cast_in_masks", lambda layers: None)
    apart = mcbridge.mc_predict(make(), x, n_samples=7, seed=4, precision="bfloat16").samples
    np.testing.assert_array_equal(fused, apart)


def test_model_and_global_policy_untouched(cnn, x_small, bf16):
    before = [w.copy() for w in cnn.get_weights()]
    mcbridge.mc_predict(cnn, x_small, n_samples=3, seed=0, precision="bfloat16")
    assert keras.config.dtype_policy().name == "float32"
    assert all(layer.dtype_policy.name == "float32" for layer in cnn.layers)
    for a, b in zip(before, cnn.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bfloat16_copies_follow_the_models_current_weights(cnn, x_small, bf16):
    model = cnn
    mcbridge.mc_predict(model, x_small, n_samples=3, seed=0, precision="bfloat16")  # builds the copies
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][0]
    dense.kernel.assign(np.zeros(dense.kernel.shape, np.float32))  # "training" after the first call
    f32 = mcbridge.mc_predict(model, x_small, n_samples=20, seed=2).samples
    bf16 = mcbridge.mc_predict(model, x_small, n_samples=20, seed=2, precision="bfloat16").samples
    # With a zero hidden kernel every sample is the same (bias-only) prediction.
    np.testing.assert_allclose(bf16, f32, atol=0.02)
    assert np.ptp(bf16, axis=-1).max() < 1e-6


@pytest.mark.cpu
def test_without_bfloat16_instructions_a_warning_and_float32(cnn, x_small, monkeypatch):
    monkeypatch.setattr(plan, "bfloat16_instructions", lambda: [])
    with pytest.warns(UserWarning, match="no bfloat16 instructions.*float32 instead.*2.6x slower"):
        low = mcbridge.mc_predict(cnn, x_small, n_samples=4, seed=1, precision="bfloat16")
    np.testing.assert_array_equal(low.samples, mcbridge.mc_predict(cnn, x_small, n_samples=4, seed=1).samples)
    monkeypatch.setattr(plan, "bfloat16_instructions", lambda: ["avx512_bf16"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plan.resolve_precision("bfloat16") == "bfloat16"
    monkeypatch.setattr(plan, "bfloat16_instructions", lambda: [])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float32 never warns
        assert plan.resolve_precision("float32") == "float32"


def test_the_warning_names_the_callers_line(cnn, x_small, tmp_path, monkeypatch):
    """Through every entry point (the ensemble dispatch, the streaming writer),
    the warning points at the user's call, not at mcbridge's internals."""
    monkeypatch.setattr(plan, "bfloat16_instructions", lambda: [])
    calls = [
        lambda: mcbridge.mc_predict(cnn, x_small, n_samples=2, precision="bfloat16"),
        lambda: mcbridge.predict_to_file(cnn, x_small, tmp_path / "p.arrow", n_samples=2, precision="bfloat16"),
        lambda: mcbridge.mc_predict(mcbridge.Ensemble([cnn, cnn]), x_small, n_samples=2, precision="bfloat16"),
    ]
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        said = [w for w in caught if "no bfloat16 instructions" in str(w.message)]
        assert len(said) == 1 and said[0].filename == __file__, [(w.filename, w.lineno) for w in said]


def test_cpu_check_reads_flags_and_the_onednn_cap():
    intel = "processor : 0\nflags : fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
    assert bfloat16_instructions(intel, isa_cap="") == ["avx512_bf16", "amx_bf16"]
    assert bfloat16_instructions(intel, isa_cap="AVX2") == []
    assert bfloat16_instructions(intel, isa_cap="avx512_core_amx") == ["avx512_bf16", "amx_bf16"]
    assert bfloat16_instructions("flags : fpu sse avx2 avx512f avx512bw\n", isa_cap="") == []
    assert bfloat16_instructions("Features : fp asimd bf16 i8mm\n", isa_cap="") == ["bf16"]


@pytest.mark.cpu
def test_precision_argument_errors(cnn, x_small, tmp_path, cpu_bf16):
    """Argument errors come before the look at the CPU: the same with and without bfloat16."""
    for call in (
        lambda **kw: mcbridge.mc_predict(cnn, x_small, **kw),
        lambda **kw: mcbridge.predict_to_file(cnn, x_small, tmp_path / "p.arrow", **kw),
        lambda **kw: mcbridge.mc_predict(mcbridge.Ensemble([cnn, cnn]), x_small, **{"n_samples": 2, **kw}),
    ):
        with pytest.raises(ValueError, match=r"argument `precision`.*Received: precision='float16'"):
            call(precision="float16")
        with pytest.raises(TypeError, match=r"argument `precision`.*Received: precision=16"):
            call(precision=16)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no bfloat16 warning before an argument error
            with pytest.raises(ValueError, match="Received: n_samples=0"):
                call(precision="bfloat16", n_samples=0)
    assert not (tmp_path / "p.arrow").exists()
