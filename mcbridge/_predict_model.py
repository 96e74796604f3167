"""MC dropout prediction of one Keras model: what `mcbridge.mc_predict` does for a `keras.Model`.

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

`mcbridge.mc_predict` (in `mcbridge.predict`) is the public name; it sends an
`mcbridge.Ensemble` to `mcbridge.ensemble`, which samples each member here.
"""

from __future__ import annotations

import keras
import numpy as np

from mcbridge._checks import (
    INT64_MAX,
    check_bool,
    check_classifier_output,
    check_int,
    check_model,
    check_precision,
    check_probabilities,
    check_result_size,
    check_seed,
    check_single_io,
    check_task,
    check_x,
    has_rescaling,
    positive_int,
    warn_from_logits,
)
from mcbridge._engine.plan import chunk_plan, resolve_precision
from mcbridge._engine.run import run_chunks, sampler_for
from mcbridge.result import MCResult

__all__ = ["DEFAULT_MEMORY_BUDGET", "mc_predict_model"]

#: Bytes of activations one compiled call may hold (256 MiB).
DEFAULT_MEMORY_BUDGET = 256 * 2**20


def mc_predict_model(
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
    """`mcbridge.mc_predict` of one `keras.Model` (the arguments are documented there).

    Returns:
        An `MCResult` whose `samples` has shape `(n, classes, n_samples)` or
        `(n, outputs, n_samples)`.
    """
    check_model(model)
    n_samples = positive_int("n_samples", n_samples)
    batch_size = positive_int("batch_size", batch_size)
    memory_budget = check_int("memory_budget", memory_budget, maximum=INT64_MAX)
    seed = check_seed(seed)
    task, from_logits, heteroscedastic = check_task(task, from_logits, heteroscedastic)
    if progress is not None:
        check_bool("progress", progress)
    precision = check_precision(precision)
    input_shape, input_dtype = check_single_io(model)
    n_outputs = check_classifier_output(model, model.outputs[0].shape, task=task)
    x = check_x(x, input_shape, input_dtype, rescales=has_rescaling(model))
    check_result_size(x.shape[0], n_outputs, n_samples)  # before anything is allocated
    if task == "classification":
        warn_from_logits(model, from_logits)
    precision = resolve_precision(precision)  # (what the CPU offers: after every argument check)
    return _mc_predict(
        model, x, n_samples, batch_size, seed, from_logits, progress, memory_budget,
        task=task, heteroscedastic=heteroscedastic, precision=precision,
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
    """`mc_predict_model` on checked arguments; `split=False` replicates the whole model.

    With the same seed, `split=True` and `split=False` draw the same dropout
    masks (the stochastic layers see the same shapes and random states), so
    their samples agree up to floating-point rounding: the test that the
    deterministic-prefix fast path is exact.
    """
    check_task(task, from_logits, heteroscedastic)
    sampler = _sampler_for(model, split, precision)
    x = check_x(x, sampler.input_shape, sampler.input_dtype)
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


def _check_classifier_block(block: np.ndarray) -> None:
    """`check_probabilities`, naming the way out for regression models too."""
    try:
        check_probabilities(block)
    except ValueError as err:
        raise ValueError(
            f"{err} If the model predicts real values, call "
            'mc_predict(..., task="regression").'
        ) from None


def _sampler_for(model: keras.Model, split: bool = True, precision: str = "float32"):
    """The engine's cached sampler of `model` (`mcbridge._engine.run.Sampler`)."""
    return sampler_for(model, check_single_io, split, precision)
