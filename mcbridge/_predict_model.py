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

import threading
import weakref

import keras
import numpy as np

from mcbridge._checks import (
    INT64_MAX,
    check_bool,
    check_classifier_output,
    check_inputs,
    check_int,
    check_model,
    check_output_shapes,
    check_precision,
    check_probabilities,
    check_result_size,
    check_seed,
    check_single_io,
    check_tasks,
    check_adaptive,
    class_groups,
    has_rescaling,
    input_names,
    model_io,
    positive_int,
    warn_from_logits,
)
from mcbridge._engine.graph import on_input_shapes
from mcbridge._engine.plan import resolve_precision
from mcbridge._engine.run import sample, sampler_for
from mcbridge.result import MCResult

__all__ = ["DEFAULT_MEMORY_BUDGET", "mc_predict_model"]

#: Bytes of activations one compiled call may hold (256 MiB).
DEFAULT_MEMORY_BUDGET = 256 * 2**20

# Views of models whose outputs have unknown sizes, on the input shapes seen
# (`_on_shapes_of`): model -> {input shapes: (layer ids, view)}, the last few.
_VIEWS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_VIEWS_LOCK = threading.Lock()
_MAX_VIEWS = 4


def _on_shapes_of(model: keras.Model, xs: list) -> keras.Model:
    """`model`, or if an output has axes of unknown size its view on the shapes of `xs` (cached).

    `graph.on_input_shapes`: the same layers and weights, so a fully
    convolutional model built on `keras.Input((None, None, 3))` predicts
    inputs of any size (each new size is traced once; the last few are kept).
    """
    if all(d is not None for t in model.outputs for d in t.shape[1:]):
        return model
    shapes = tuple(tuple(int(d) for d in a.shape[1:]) for a in xs)
    layers = tuple(id(layer) for layer in model.layers)
    with _VIEWS_LOCK:
        views = _VIEWS.setdefault(model, {})
        held = views.pop(shapes, None)
        if held is None or held[0] != layers:
            held = (layers, on_input_shapes(model, list(shapes)))
        views[shapes] = held  # (the newest last)
        while len(views) > _MAX_VIEWS:
            views.pop(next(iter(views)))
        return held[1]


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
    tolerance: float | None = None,
    min_samples: int = 10,
    class_margin: float | None = None,
) -> MCResult | list[MCResult]:
    """`mcbridge.mc_predict` of one `keras.Model` (the arguments are documented there).

    Returns:
        An `MCResult` whose `samples` has shape `(n, *dims, classes, n_samples)`
        for a model output `(batch, *dims, classes)`; a list of them, in the
        model's output order, for a model with several outputs.
    """
    check_model(model)
    n_samples = positive_int("n_samples", n_samples)
    batch_size = positive_int("batch_size", batch_size)
    memory_budget = check_int("memory_budget", memory_budget, maximum=INT64_MAX)
    seed = check_seed(seed)
    if progress is not None:
        check_bool("progress", progress)
    precision = check_precision(precision)
    tolerance, class_margin, min_samples = check_adaptive(tolerance, class_margin, min_samples, n_samples)
    specs, out_shapes = model_io(model)
    tasks = check_tasks(task, from_logits, heteroscedastic, len(out_shapes))
    xs = check_inputs(x, specs, input_names(model), rescales=has_rescaling(model))
    view = _on_shapes_of(model, xs)
    shapes = check_output_shapes(view, model_io(view)[1])
    check_result_size(xs[0].shape[0], sum(int(np.prod(s)) for s in shapes), n_samples, shapes=shapes)  # before allocating
    if any(t == "classification" and logits for t, logits, _ in tasks):
        warn_from_logits(model, True)
    precision = resolve_precision(precision)  # (what the CPU offers: after every argument check)
    return _mc_predict(
        view, xs, n_samples, batch_size, seed, [t[1] for t in tasks], progress, memory_budget,
        task=[t[0] for t in tasks], heteroscedastic=[t[2] for t in tasks], precision=precision,
        tolerance=tolerance, min_samples=min_samples, class_margin=class_margin,
    )


def _mc_predict(
    model: keras.Model,
    x,
    n_samples: int,
    batch_size: int,
    seed: int | None,
    from_logits,
    progress: bool | None,
    memory_budget: int,
    split: bool = True,
    task="classification",
    heteroscedastic=False,
    precision: str = "float32",
    tolerance: float | None = None,
    min_samples: int = 10,
    class_margin: float | None = None,
) -> MCResult | list[MCResult]:
    """`mc_predict_model` on checked arguments; `split=False` replicates the whole model.

    With `tolerance` or `class_margin`, sampling is adaptive (`run.run_adaptive`, in rounds of
    `min_samples`): the results carry `n_used`.
    `task`, `from_logits` and `heteroscedastic`: one value, or one per output.
    With the same seed, `split=True` and `split=False` draw the same dropout
    masks (the stochastic layers see the same shapes and random states), so
    their samples agree up to floating-point rounding: the test that the
    deterministic-prefix fast path is exact.
    """
    sampler = _sampler_for(model, split, precision, any_shape=True)
    shapes = sampler.output_shapes
    tasks = check_tasks(task, from_logits, heteroscedastic, len(shapes))
    xs = check_inputs(x, sampler.input_specs, input_names(model))
    for shape, (t, _, hetero) in zip(shapes, tasks):
        if hetero and shape[-1] % 2:
            raise ValueError(
                f"Model {model.name!r} has an output of shape (batch, {', '.join(map(str, shape))}); "
                "heteroscedastic=True needs an even number of entries on its last axis: d means, "
                "then d log-variances."
            )
    groups = () if class_margin is None else class_groups(shapes, [t[0] for t in tasks])
    samples, used = sample(
        sampler, xs, n_samples, batch_size, memory_budget, seed, [t[1] for t in tasks],
        tolerance=tolerance, min_samples=min_samples, check=_block_check(shapes, tasks), progress=progress,
        class_margin=class_margin, class_groups=groups,
    )
    results, start, n = [], 0, xs[0].shape[0]
    for shape, (t, _, hetero) in zip(shapes, tasks):
        size = int(np.prod(shape))
        block = samples[:, start : start + size].reshape((n, *shape, n_samples), order="F")
        start += size
        results.append(_result(block if len(shapes) == 1 else np.asfortranarray(block), t, hetero, used))
    return results[0] if len(results) == 1 else results


def _result(samples: np.ndarray, task: str, heteroscedastic: bool, n_used=None) -> MCResult:
    """The `MCResult` of one output's samples `(n, *dims, entries, n_samples)`."""
    if task == "classification":
        return MCResult(samples, n_used=n_used)
    if not heteroscedastic:
        return MCResult(samples, task="regression", n_used=n_used)
    d = samples.shape[-2] // 2
    with np.errstate(over="ignore", invalid="ignore"):  # float32: a log-variance past ~88 gives inf
        noise = np.exp(samples[..., d:, :], order="F")
    return MCResult(np.asfortranarray(samples[..., :d, :]), task="regression", noise_variance=noise, n_used=n_used)


def _block_check(shapes: list[tuple], tasks: list[tuple]):
    """The check of each block `(draws, n_outputs, rows)`: classification outputs hold probabilities; None if none."""
    spans, start = [], 0
    for shape, (t, logits, _) in zip(shapes, tasks):
        size = int(np.prod(shape))
        if t == "classification" and not logits:
            spans.append((start, size, shape[-1]))
        start += size
    if not spans:
        return None

    def check(block: np.ndarray) -> None:
        for start, size, classes in spans:  # (classes the slowest axis of an output's entries)
            part = block[:, start : start + size]
            _check_classifier_block(part.reshape(part.shape[0], classes, -1))

    return check


def _check_classifier_block(block: np.ndarray) -> None:
    """`check_probabilities`, naming the way out for regression models too."""
    try:
        check_probabilities(block)
    except ValueError as err:
        raise ValueError(
            f"{err} If the model predicts real values, call "
            'mc_predict(..., task="regression").'
        ) from None


def _sampler_for(model: keras.Model, split: bool = True, precision: str = "float32", any_shape: bool = False):
    """The engine's cached sampler of `model` (`mcbridge._engine.run.Sampler`).

    `any_shape=False` (streaming to files, Spark): one input and one output
    `(batch, classes)`, else `ValueError`.
    """
    if not any_shape:
        check_single_io(model, "this function")
        check_classifier_output(model, model.outputs[0].shape, "this function")
    return sampler_for(model, lambda m: model_io(m)[0], split, precision)
