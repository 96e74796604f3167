"""The batched Monte Carlo predictor: `mc_predict`.

`mc_predict` never calls `model.predict()` in a loop. The engine
(`mcbridge._engine`, TensorFlow-specific) rebuilds the model's graph once
around the *same* layers and weights, with every sampled layer (see
`mcbridge._engine.registry`) replaced by an always-sampling copy; it runs the
deterministic prefix before the first sampled layer once per input (cropped to
the region the output depends on), replicates its output once per MC sample
and runs the stochastic suffix on all replicas in fixed-shape compiled calls
whose activations stay within a memory budget. Every other layer runs in
inference mode (BatchNormalization uses its moving statistics). The user's
model, its weights, BatchNormalization statistics, switch state and random
state are left untouched.
"""

from __future__ import annotations

import keras
import numpy as np

from mcbridge._checks import (
    INT64_MAX,
    MCBridgeWarning,
    check_bool,
    check_classifier_output,
    check_int,
    check_model,
    check_probabilities,
    check_result_size,
    check_seed,
    check_single_io,
    check_x,
    has_rescaling,
    positive_int,
    warn,
    warn_from_logits,
)
from mcbridge._engine.plan import bfloat16_instructions, chunk_plan
from mcbridge._engine.run import PRECISIONS, run_chunks, sampler_for
from mcbridge.ensemble import ensemble_dispatch
from mcbridge.result import TASKS, MCResult

__all__ = ["MCResult", "mc_predict", "DEFAULT_MEMORY_BUDGET"]

#: Bytes of activations one compiled call may hold (256 MiB).
DEFAULT_MEMORY_BUDGET = 256 * 2**20


# --------------------------------------------------------------------------
# argument checks: all in mcbridge._checks (one phrasing for every entry point)

_check_seed = check_seed
_input_spec = check_single_io
_check_probabilities = check_probabilities


def _check_x(x, expected: tuple, dtype: str) -> np.ndarray:
    return check_x(x, expected, dtype)


@ensemble_dispatch  # an mcbridge.Ensemble as `model` goes to mcbridge.ensemble
def mc_predict(
    model: keras.Model,
    x,
    n_samples: int = 50,
    batch_size: int = 128,
    seed: int | None = None,
    from_logits: bool = False,
    progress: bool | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    task: str = "classification",
    heteroscedastic: bool = False,
    precision: str = "float32",
) -> MCResult:
    """Monte Carlo dropout prediction: `n_samples` stochastic forward passes per input.

    Works on any single-input, single-output Sequential or functional Keras
    classifier or regression model with dropout layers (mcbridge's switchable
    ones or plain Keras `Dropout`, `SpatialDropout1D/2D/3D`, `GaussianDropout`,
    `AlphaDropout`; see `mcbridge._engine.registry` for every random layer and
    what happens to it), whatever its switch says; the model is left exactly
    as it was.

    Args:
        model: A `keras.Model` whose output has shape `(batch, classes)`
            (classification) or `(batch, outputs)` (regression).
        x: Inputs, shape `(n, *input_shape)`.
        n_samples: MC samples per input.
        batch_size: At most this many inputs per compiled call (each
            replicated `n_samples` times; fewer when the activations would
            exceed `memory_budget`).
        seed: Non-negative integer for reproducible samples, or None (fresh
            randomness on every call). With a seed, input `i`'s samples
            depend only on the seed and its key (its row index `i`): every
            dropout mask is drawn from a random stream keyed by (seed, layer,
            input key, sample index), so `batch_size`, `memory_budget` and
            the other inputs do not change them (the masks are identical; the
            values equal up to float32 rounding, as batch shapes change the
            order of sums; bit-identical for the same chunking). Sample `s`
            of a run with fewer `n_samples` is the same draw. DropConnect
            layers draw one weight mask per sample index, shared by all
            inputs. `mcbridge.predict_to_file` and Spark use the same keys.
        from_logits: Apply a softmax to each sample (for logit outputs).
        progress: Show a progress bar; None shows one on long interactive runs.
        memory_budget: Bytes of activations one compiled call may use.
        task: `"classification"` (outputs are class probabilities, or logits
            with `from_logits=True`; checked) or `"regression"` (real-valued
            outputs, not checked).
        heteroscedastic: Regression only: the model's output `(batch, 2 * d)`
            holds `d` predicted means, then the `d` log-variances of the noise
            around them (a mean head and a log-variance head concatenated, as
            in Kendall & Gal, 2017). `samples` are then the means and
            `MCResult.noise_variance` the exponentiated log-variances, which
            splits the predictive variance into aleatoric and epistemic parts.
        precision: `"float32"` (the model as it is) or `"bfloat16"`: the
            layers after the first dropout, but the output layer, compute in
            bfloat16 (about 3 significant digits; float32 weights, copied from
            the model at each call), which on CPUs with bfloat16 instructions
            (`avx512_bf16`, AMX, Arm `bf16`) is faster (the seed CNN: about
            1.6x on a Xeon with AMX) while its rounding stays far below the
            Monte Carlo spread. `samples` are float32 either way, and the same
            seed gives the same bits for the same precision. On a CPU without
            such instructions bfloat16 would be emulated (2.6x slower than
            float32 with oneDNN capped at AVX512_CORE) or refused (AVX2 only):
            a warning says so and float32 is computed instead.

    Returns:
        An `MCResult` for `task` whose `samples` has shape
        `(n, classes, n_samples)` or `(n, outputs, n_samples)`
        (`(0, classes, n_samples)` for an empty `x`).

    Raises:
        TypeError: an argument of the wrong type (`n_samples=2.5`,
            `batch_size="128"`, `from_logits=1`), `model` is not a Keras
            model, or `x` is not numeric (strings, objects, ragged lists).
        ValueError: a bad value (zero, negative), `x` of the wrong shape or
            with NaN/inf values, a model with several inputs or outputs, an
            output that is not `(batch, classes)`, a model without dropout (or
            with random layers mcbridge cannot sample), or, for
            classification, outputs that are not probabilities while
            `from_logits=False`.
        MemoryError: the result `(n, classes, n_samples)` cannot fit in the
            memory available; raised before anything is allocated.

    Warns:
        UnscaledInputWarning: integer inputs above 1 for a model without a
            Rescaling layer (images in 0..255 that look unscaled).
        ProbabilityOutputWarning: `from_logits=True` for a model that ends
            in a softmax.
        UserWarning: `precision="bfloat16"` on a CPU without bfloat16
            instructions (float32 is computed).
    """
    check_model(model)
    n_samples = positive_int("n_samples", n_samples)
    batch_size = positive_int("batch_size", batch_size)
    memory_budget = check_int("memory_budget", memory_budget, maximum=INT64_MAX)
    seed = check_seed(seed)
    from_logits = check_bool("from_logits", from_logits)
    heteroscedastic = check_bool("heteroscedastic", heteroscedastic)
    if progress is not None:
        check_bool("progress", progress)
    _check_task(task, from_logits, heteroscedastic)
    precision = _check_precision(precision)
    input_shape, input_dtype = check_single_io(model)
    n_outputs = check_classifier_output(model, model.outputs[0].shape, task=task)
    x = check_x(x, input_shape, input_dtype, rescales=has_rescaling(model))
    check_result_size(x.shape[0], n_outputs, n_samples)  # before anything is allocated
    if task == "classification":
        warn_from_logits(model, from_logits)
    return _mc_predict(
        model, x, n_samples, batch_size, seed, from_logits, progress, memory_budget,
        task=task, heteroscedastic=heteroscedastic, precision=precision,
    )


def _check_precision(precision) -> str:
    if not isinstance(precision, str):
        raise TypeError(
            "Invalid value received for argument `precision`. Expected one of "
            f"{', '.join(map(repr, PRECISIONS))}. Received: precision={precision!r}"
        )
    if precision not in PRECISIONS:
        raise ValueError(
            "Invalid value received for argument `precision`. Expected one of "
            f"{', '.join(map(repr, PRECISIONS))}. Received: precision={precision!r}"
        )
    if precision == "bfloat16" and not bfloat16_instructions():
        warn(
            "precision='bfloat16': this CPU has no bfloat16 instructions (avx512_bf16, "
            "amx_bf16 or Arm bf16; or ONEDNN_MAX_CPU_ISA excludes them), so mc_predict "
            f"computes in float32 instead. {_NO_BF16_COST} Pass precision='float32' here.",
            MCBridgeWarning,
        )
        return "float32"
    return precision


#: What bfloat16 costs without bfloat16 instructions (BENCHMARKS.md, issue 11).
_NO_BF16_COST = (
    "Emulated, bfloat16 ran the seed CNN 2.6x slower than float32 (a Xeon with "
    "oneDNN capped at AVX512_CORE), and with AVX2 only TensorFlow's oneDNN "
    "convolutions refuse bfloat16."
)


def _mc_predict(
    model: keras.Model,
    x,
    n_samples: int,
    batch_size: int,
    seed: int | None,
    from_logits: bool,
    progress: bool | None,
    memory_budget: int,
    split: bool = True,
    task: str = "classification",
    heteroscedastic: bool = False,
    precision: str = "float32",
) -> MCResult:
    """`mc_predict` on checked arguments; `split=False` replicates the whole model.

    With the same seed, `split=True` and `split=False` draw the same dropout
    masks (the stochastic layers see the same shapes and random states), so
    their samples agree up to floating-point rounding: the test that the
    deterministic-prefix fast path is exact.
    """
    _check_task(task, from_logits, heteroscedastic)
    sampler = _sampler_for(model, split, precision)
    x = _check_x(x, sampler.input_shape, sampler.input_dtype)
    if heteroscedastic and sampler.n_outputs % 2:
        raise ValueError(
            f"Model {model.name!r} has {sampler.n_outputs} outputs; heteroscedastic=True "
            "needs an even number: d means, then d log-variances."
        )
    chunks = chunk_plan(x.shape[0], n_samples, batch_size, sampler.row_bytes, memory_budget)
    check = _check_classifier_block if task == "classification" and not from_logits else None
    samples = run_chunks(sampler, chunks, x, seed, from_logits, check=check, progress=progress)
    if task == "classification":
        return MCResult(samples)
    if not heteroscedastic:
        return MCResult(samples, task="regression")
    d = sampler.n_outputs // 2
    with np.errstate(over="ignore"):  # float32: a log-variance past ~88 gives inf
        noise = np.exp(samples[:, d:], order="F")
    return MCResult(np.asfortranarray(samples[:, :d]), task="regression", noise_variance=noise)


def _check_task(task, from_logits: bool, heteroscedastic) -> None:
    if task not in TASKS:
        raise ValueError(
            "Invalid value received for argument `task`. Expected one of "
            f"{', '.join(map(repr, TASKS))}. Received: task={task!r}"
        )
    if not isinstance(heteroscedastic, (bool, np.bool_)):
        raise TypeError(
            "Invalid value received for argument `heteroscedastic`. Expected True "
            f"or False. Received: heteroscedastic={heteroscedastic!r}"
        )
    if task == "regression" and from_logits:
        raise ValueError(
            "Invalid value received for argument `from_logits`. Expected False "
            "for task='regression' (a softmax applies to class logits only). "
            "Received: from_logits=True"
        )
    if heteroscedastic and task != "regression":
        raise ValueError(
            "Invalid value received for argument `heteroscedastic`. Expected "
            "False unless task='regression'. Received: heteroscedastic=True"
        )


def _check_classifier_block(block: np.ndarray) -> None:
    """`_check_probabilities`, naming the way out for regression models too."""
    try:
        _check_probabilities(block)
    except ValueError as err:
        raise ValueError(
            f"{err} If the model predicts real values, call "
            'mc_predict(..., task="regression").'
        ) from None


def _sampler_for(model: keras.Model, split: bool = True, precision: str = "float32"):
    """The engine's cached sampler of `model` (`mcbridge._engine.run.Sampler`)."""
    return sampler_for(model, _input_spec, split, precision)
