"""`mc_predict`: Monte Carlo prediction of a Keras model or a deep ensemble.

The public entry point, above the two predictors it hands a call to:
`mcbridge._predict_model` for a `keras.Model` (the batched MC dropout
sampler; how it works is told there) and `mcbridge.ensemble` for an
`mcbridge.Ensemble`, whose members that sampler predicts. Dependencies point
one way: `predict` -> `ensemble` -> `_predict_model` -> `_engine`.
"""

from __future__ import annotations

import inspect

from mcbridge._predict_model import DEFAULT_MEMORY_BUDGET, mc_predict_model
from mcbridge._predict_model import _mc_predict, _sampler_for  # noqa: F401  (tests and benchmarks reach them here)
from mcbridge.ensemble import Ensemble, mc_predict_ensemble
from mcbridge.result import MCResult

__all__ = ["MCResult", "mc_predict", "DEFAULT_MEMORY_BUDGET"]


def mc_predict(model, *args, **kwargs) -> MCResult:
    """Monte Carlo prediction: `n_samples` stochastic forward passes per input.

    Works on any Sequential or functional Keras model with dropout layers
    (mcbridge's switchable ones or plain Keras `Dropout`,
    `SpatialDropout1D/2D/3D`, `GaussianDropout`, `AlphaDropout`, the dropout
    of `LSTM`/`GRU`/`SimpleRNN` (also inside `Bidirectional`) and of
    `MultiHeadAttention`/`Attention`/`AdditiveAttention`; see
    `mcbridge._engine.registry` for every random layer and what happens to
    it), whatever its switch says, its loss or its nesting; the model is
    left exactly as it was. Outputs may have any rank (segmentation maps,
    tagged sequences); models may have several inputs and outputs.

    Args:
        model: A `keras.Model` whose outputs have shape `(batch, *dims,
            classes)` (classification: probabilities on the last axis) or
            `(batch, *dims, outputs)` (regression), every size known, or an
            `mcbridge.Ensemble` (see `mcbridge.ensemble.mc_predict_ensemble`:
            there `n_samples` defaults to 1, one deterministic prediction
            per member).
        x: Inputs, shape `(n, *input_shape)`; for several inputs a list of
            arrays (the model's input order) or a dict by input name, all
            with the same `n`; or a `tf.data.Dataset` of `x` or `(x, y)`
            batches.
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
        from_logits: Apply a softmax over the last axis of each sample
            (for logit outputs). `task`, `from_logits` and `heteroscedastic`
            take one value for every output or a list of one per output.
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

        tolerance: None (every input gets `n_samples`), or adaptive
            sampling: inputs are sampled in rounds of `min_samples` and an
            input stops once the Monte Carlo standard error of its mean
            probabilities (`std / sqrt(count)`, the largest over its
            entries) is at most `tolerance`, or at `n_samples`. The result's
            `n_used` says how many samples each input got; its `samples`
            hold them first, NaN after, and every measure uses exactly
            those. With a seed, input `i`'s samples are the first
            `n_used[i]` of a fixed-size run (the same bits for the same
            chunk shape). Not for models with DropConnect layers.
        min_samples: With `tolerance` or `class_margin`: the samples every
            input gets, and the round size (2 to `n_samples`).
        class_margin: None, or adaptive sampling that stops an input once
            its predicted class is settled (instead of `tolerance`): the gap
            between its two most probable classes (mean probabilities) is
            more than `class_margin` times the sum of their MC standard
            errors, at every position of every classification output, or at
            `n_samples`. 2 is a good start: on the seed CNN it kept 99.9% of
            the classes of a 200-sample run with about 16 samples per input
            (BENCHMARKS.md, section 9). `n_used` and the bits as with
            `tolerance`.

    Returns:
        An `MCResult` for `task` whose `samples` has shape
        `(n, *dims, classes, n_samples)` (`(n, classes, n_samples)` for the
        usual classifier; `(0, ...)` for an empty `x`); for a model with
        several outputs, a list of them in the model's output order.

    Raises:
        TypeError: an argument of the wrong type (`n_samples=2.5`,
            `batch_size="128"`, `from_logits=1`), `model` is not a Keras
            model, or `x` is not numeric (strings, objects, ragged lists).
        ValueError: a bad value (zero, negative), `x` of the wrong shape or
            with NaN/inf values (or a list or dict that does not match the
            model's inputs), an output with axes of unknown size, a list of
            tasks of the wrong length, `tolerance` and `class_margin` both
            given (or `class_margin` without a classification output, or
            either for an `Ensemble`), a
            model without dropout (or
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
    if isinstance(model, Ensemble):  # only the arguments given: the ensemble's own defaults apply
        for name in ("tolerance", "class_margin"):
            if kwargs.get(name) is not None:
                raise ValueError(
                    f"`{name}` (adaptive sampling) is not available for an Ensemble yet. Use {name}=None, "
                    "or call mc_predict on each member."
                )
        return mc_predict_ensemble(model, *args, **kwargs)
    return mc_predict_model(model, *args, **kwargs)


def _signature() -> inspect.Signature:
    """`mc_predict_model`'s, whose `model` may also be an `Ensemble`.

    `help()` and `inspect` show it (R's tests compare it with the formals of
    R's `mc_predict()`).
    """
    sig = inspect.signature(mc_predict_model)
    model, *rest = sig.parameters.values()
    return sig.replace(parameters=[model.replace(annotation="keras.Model | Ensemble"), *rest])


mc_predict.__signature__ = _signature()
