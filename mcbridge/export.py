"""Export an MC dropout model as a TensorFlow SavedModel that serves its uncertainty.

`mcbridge.export(model, path)` writes a SavedModel whose signatures run the
same engine as `mcbridge.mc_predict` (the deterministic prefix once per
input, the compiled suffix with keyed masks on `n_samples` replicas) and
return the summaries over the samples. Loading it needs TensorFlow only:

    >>> mcbridge.export(model, "served", n_samples=50)
    >>> loaded = tf.saved_model.load("served")      # no mcbridge needed
    >>> loaded.signatures["serving_default"](x=x)  # fresh masks on every call
    >>> loaded.signatures["seeded"](x=x, seed=tf.constant(1, tf.int64), key=tf.range(len(x), dtype=tf.int64))

Signatures (a SavedModel signature has no optional inputs, so there are two;
the SavedModel's `predict(x, seed=None, key=None)` function takes them as
optional arguments, for Python and R callers):

* `serving_default(x)`: a seed is drawn inside the graph on every call, so
  every call draws fresh masks.
* `seeded(x, seed, key)`: `seed` an int64 scalar >= 0 and `key` the int64
  key of each row (`(n,)`). Row `i`'s masks depend on `seed` and `key[i]`
  only, as in `mc_predict`, whose keys are the row indices: with
  `key = range(n)` the samples are `mc_predict(model, x, n_samples, seed=seed)`'s.

Bit-exactness (tested): on the same CPU, the seeded signature's `samples`,
`mean` and `variance` equal those of `mc_predict(model, x, n_samples=...,
seed=seed, batch_size=B, memory_budget=M)` bit for bit when `B` and `M` are
the `batch_size` and `memory_budget` given to `export` (the same chunk
shape: `k = min(batch_size, n, rows the budget allows)` inputs per compiled
call; the export chunks a request as `mc_predict` chunks its `x`). The
entropies (`predictive_entropy`, `expected_entropy`, `mutual_information`)
use TensorFlow's float64 logarithm where `MCResult` uses NumPy's, which
differs in the last bit for some arguments: they agree to about 1e-15
(relative). Other chunk shapes give the same masks and values equal up to
float32 rounding.

Several outputs: the signature outputs are `"<output name>/<summary>"`
(`"label/mean"`, `"price/variance"`, ...; the names of `model.output_names`),
each output with its own task's summaries; one output keeps the plain
names. Heteroscedastic regression (`heteroscedastic=True`: the output's
last axis holds `d` means then `d` log-variances) serves `MCResult`'s split:
`samples`, `mean`, `variance` (= `epistemic_variance`) and `std` of the
means bit for bit, and `noise_variance`, `aleatoric_variance`,
`predictive_variance`, `predictive_std`, which take TensorFlow's float32
`exp` where `mc_predict` takes NumPy's (up to 2 ulp apart): to about 2.4e-7
(relative).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import types
from typing import NamedTuple

import numpy as np

from mcbridge._checks import (
    INT64_MAX,
    check_bool,
    check_int,
    check_model,
    check_output_shapes,
    check_precision,
    check_tasks,
    input_names,
    model_io,
    output_names,
    positive_int,
    shareable,
    warn_from_logits,
)

__all__ = ["export", "load_exportable", "OUTPUTS", "SEEDED_SIGNATURE"]

#: The summaries `export` can serve, by kind of output: its task, or
#: "heteroscedastic" (task="regression", heteroscedastic=True). Each is the
#: `MCResult` attribute (or method) of that name.
OUTPUTS = {
    "classification": (
        "mean", "variance", "std", "predictive_entropy", "expected_entropy", "mutual_information",
    ),
    "regression": ("mean", "variance", "std"),
    "heteroscedastic": (
        "mean", "variance", "std", "aleatoric_variance", "epistemic_variance", "predictive_variance",
        "predictive_std",
    ),
}  # fmt: skip
_DEFAULT_OUTPUTS = {
    "classification": ("mean", "variance", "predictive_entropy", "mutual_information"),
    "regression": ("mean", "variance"),
    "heteroscedastic": ("mean", "aleatoric_variance", "epistemic_variance", "predictive_variance"),
}
#: The name of the signature that takes `seed` and `key`.
SEEDED_SIGNATURE = "seeded"
#: The file (under the SavedModel's `assets.extra/`) that records what was exported.
MANIFEST = "mcbridge_export.json"

# NumPy's SeedSequence constants (O'Neill's seed_seq_fe, numpy/random/bit_generator.pyx).
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_POOL_SIZE = 4
_MASK32 = 0xFFFFFFFF


# --------------------------------------------------------------------------
# NumPy's SeedSequence in TensorFlow ops (the seed arrives at serving time)


def _u64(value):
    import tensorflow as tf

    return tf.constant(value, tf.uint64)


class _Hash:
    """SeedSequence's running hash constant: a Python int (known when tracing), the values tensors."""

    def __init__(self, init: int, mult: int):
        self.value, self.mult = init, mult

    def step(self, word):
        """`word` hashed with the constant, which then advances (uint32 arithmetic in uint64 tensors)."""
        import tensorflow as tf

        word = tf.bitwise.bitwise_xor(word, _u64(self.value))
        self.value = (self.value * self.mult) & _MASK32
        word = tf.bitwise.bitwise_and(word * _u64(self.value), _u64(_MASK32))
        return tf.bitwise.bitwise_xor(word, tf.bitwise.right_shift(word, _u64(16)))


def _mix(x, y):
    import tensorflow as tf

    a = tf.bitwise.bitwise_and(x * _u64(_MIX_MULT_L), _u64(_MASK32))
    b = tf.bitwise.bitwise_and(y * _u64(_MIX_MULT_R), _u64(_MASK32))
    r = tf.bitwise.bitwise_and(a + _u64(1 << 32) - b, _u64(_MASK32))
    return tf.bitwise.bitwise_xor(r, tf.bitwise.right_shift(r, _u64(16)))


def seed_sequence_state(seed, n_words: int, spawn_key: tuple = ()):
    """`np.random.SeedSequence(seed, spawn_key=spawn_key).generate_state(n_words, np.uint32)` in TF ops.

    Args:
        seed: int64 scalar tensor, `0 <= seed < 2**63`.
        n_words: How many 32-bit words (static).
        spawn_key: Static ints: the child `SeedSequence.spawn` makes.

    Returns:
        `uint64` tensor `(n_words,)` holding the 32-bit words.
    """
    import tensorflow as tf

    seed = tf.cast(seed, tf.uint64)
    # The entropy words, low first; a high word 0 hashes as the pool's padding does.
    entropy = [tf.bitwise.bitwise_and(seed, _u64(_MASK32)), tf.bitwise.right_shift(seed, _u64(32))]
    if spawn_key:  # the run entropy is padded to the pool size before the spawn key
        entropy += [_u64(0)] * (_POOL_SIZE - len(entropy)) + [_u64(k & _MASK32) for k in spawn_key]
    mixer = _Hash(_INIT_A, _MULT_A)
    pool = [mixer.step(entropy[i] if i < len(entropy) else _u64(0)) for i in range(_POOL_SIZE)]
    for src in range(_POOL_SIZE):
        for dst in range(_POOL_SIZE):
            if src != dst:
                pool[dst] = _mix(pool[dst], mixer.step(pool[src]))
    for src in range(_POOL_SIZE, len(entropy)):
        for dst in range(_POOL_SIZE):
            pool[dst] = _mix(pool[dst], mixer.step(entropy[src]))
    out = _Hash(_INIT_B, _MULT_B)
    return tf.stack([out.step(pool[i % _POOL_SIZE]) for i in range(n_words)])


def call_states(seed, n_generators: int):
    """`Sampler.call_states(seed, m)` in TF ops: int64 `(n_generators, 2)` layer keys from an int64 `seed`."""
    import tensorflow as tf

    words = seed_sequence_state(seed, 2 * max(n_generators, 1))[: 2 * n_generators]
    return tf.reshape(tf.cast(tf.bitwise.right_shift(words, _u64(1)), tf.int64), [n_generators, 2])


def member_seed(seed, j: int):
    """The seed `mc_predict` gives ensemble member `j` (`ensemble._member_seeds`), in TF ops."""
    import tensorflow as tf

    word = seed_sequence_state(seed, 1, spawn_key=(j,))[0]
    return tf.cast(tf.bitwise.right_shift(word, _u64(1)), tf.int64)


# --------------------------------------------------------------------------
# What runs in the graph


def _compile(fn):
    import tensorflow as tf

    return tf.function(fn, jit_compile=False, reduce_retracing=True, autograph=False)


def _tf_variable(v):
    """The `tf.Variable` behind a Keras variable (what a SavedModel tracks)."""
    return getattr(v, "value", v)


def _read(variables: list) -> list:
    import tensorflow as tf

    return [tf.convert_to_tensor(_tf_variable(v)) for v in variables]


def _stateless(variables: list, call):
    """`run(x, values)`: `call(x)` with `variables` read as `values` (as the engine's compiled parts)."""

    import keras

    def run(x, values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return call(x)

    return run


def _split_outputs(samples, shapes: list) -> list:
    """`(n, draws, entries)` engine samples -> one `(n, draws, *shape)` per output.

    The engine gives each output's `(*dims, classes)` entries in Fortran
    order (the first axis fastest), the outputs one after another.
    """
    import tensorflow as tf

    out, start = [], 0
    for shape in shapes:
        size, r = int(np.prod(shape)), len(shape)
        part = samples[:, :, start : start + size]
        part = tf.reshape(part, tf.concat([tf.shape(part)[:2], list(shape[::-1])], 0))
        out.append(tf.transpose(part, [0, 1, *range(r + 1, 1, -1)]))
        start += size
    return out


def _chunked(n, k, xs: list, keys, run_chunk, row_shape: tuple):
    """`run_chunk(xb, kb, rows)` on chunks of `k` rows (the last padded with its last row), rows concatenated.

    `run_chunk` returns `(rows, *row_shape)`; the result is `(n, *row_shape)`.
    """
    import tensorflow as tf

    n_chunks = (n + k - 1) // k
    out = tf.TensorArray(tf.float32, size=n_chunks, infer_shape=False, element_shape=[None, *row_shape])

    def body(c, out):
        i0 = c * k
        rows = tf.minimum(k, n - i0)
        idx = i0 + tf.minimum(tf.range(k), rows - 1)  # (the engine's `_padded`)
        xb = [tf.gather(x, idx) for x in xs]
        return c + 1, out.write(c, run_chunk(xb, tf.gather(keys, idx), rows))

    # One chunk at a time (as mc_predict): the memory budget holds for the whole request.
    _, out = tf.while_loop(lambda c, _: c < n_chunks, body, (tf.constant(0), out), parallel_iterations=1)
    return out.concat()


class _Member:
    """How one `keras.Model`'s samples are computed in the exported graph.

    `samples(xs, keys, seed)` -> float32 `(n, n_samples, entries)`: the
    samples `mc_predict` (or, `deterministic`, `deterministic_forward`)
    gives for these rows, every output's entries as the engine orders them
    (`_split_outputs` makes one array per output). `from_logits`: one bool
    per output.
    """

    def __init__(self, model, n_samples, batch_size, memory_budget, precision, from_logits, deterministic=False):
        from mcbridge._engine.plan import chunk_plan
        from mcbridge._predict_model import _sampler_for

        self.n_samples, self.from_logits, self.deterministic = n_samples, list(from_logits), deterministic
        if deterministic:  # (an ensemble member predicting once: its switch read as off)
            import keras

            from mcbridge.layers import is_switchable
            from mcbridge.switch import iter_layers

            self.shapes = [tuple(int(d) for d in t.shape[1:]) for t in model.outputs]
            self.entries = sum(int(np.prod(shape)) for shape in self.shapes)
            self.k = max(1, batch_size)
            self.variables = list(model.variables)
            switches = {
                id(layer.mc_switch) for layer in iter_layers(model)
                if is_switchable(layer) and layer.mc_switch is not None
            }  # fmt: skip
            self._is_switch = [id(v) in switches for v in self.variables]

            def forward(xb):
                out = model(xb, training=False)
                return [keras.ops.cast(o, "float32") for o in (out if isinstance(out, (list, tuple)) else [out])]

            self._forward = _compile(_stateless(self.variables, forward))
            return
        sampler = _sampler_for(model, True, precision, any_shape=True)
        sampler.sync_weights()  # (the bfloat16 copies' weights: the model's now)
        self.shapes = list(sampler.output_shapes)
        self.entries = sampler.n_outputs
        plan = chunk_plan(batch_size, n_samples, batch_size, sampler.row_bytes, memory_budget)
        self.k, self.m = plan.k, plan.m  # k: for requests of at least batch_size rows
        prefix, (suffix, self._suffix_vars), self.n_generators = sampler.traceable_parts(self.m, self.from_logits)
        self._suffix = _compile(suffix)
        self._prefix_vars = [] if prefix is None else prefix[1]
        self._prefix = None if prefix is None else _compile(prefix[0])
        self.variables = self._prefix_vars + self._suffix_vars

    def samples(self, xs: list, keys, seed):
        import tensorflow as tf

        n = tf.shape(xs[0])[0]
        k = tf.maximum(1, tf.minimum(self.k, n))
        if self.deterministic:
            values = [
                tf.zeros((), tf.bool) if switch else value
                for switch, value in zip(self._is_switch, _read(self.variables))
            ]  # fmt: skip

            def forward(xb, kb, rows):
                blocks = []
                for pred, shape, logits in zip(self._forward(xb[0] if len(xb) == 1 else xb, values),
                                               self.shapes, self.from_logits):
                    pred = pred[:rows]
                    if logits:  # as ensemble._softmax: float64, shifted by the row's max
                        z = tf.cast(pred, tf.float64)
                        e = tf.exp(z - tf.reduce_max(z, axis=-1, keepdims=True))
                        pred = tf.cast(e / tf.reduce_sum(e, axis=-1, keepdims=True), tf.float32)
                    r = len(shape)  # (rows, d1, .., classes) -> (rows, classes, .., d1): the engine's entry order
                    pred = tf.transpose(pred, (0, *range(r, 0, -1)))
                    blocks.append(tf.reshape(pred, (-1, 1, int(np.prod(shape)))))
                return blocks[0] if len(blocks) == 1 else tf.concat(blocks, axis=2)  # (rows, 1, entries)

            return _chunked(n, k, xs, keys, forward, (1, self.entries))
        states = call_states(seed, self.n_generators)
        prefix_values, suffix_values = _read(self._prefix_vars), _read(self._suffix_vars)

        def sample(xb, kb, rows):
            x = xb[0] if len(xb) == 1 else xb
            h = x if self._prefix is None else self._prefix(x, prefix_values)
            blocks = []
            for s0 in range(0, self.n_samples, self.m):
                draws = min(self.m, self.n_samples - s0)
                block = self._suffix(h, kb, tf.constant(s0, tf.int64), states, suffix_values)
                blocks.append(block[:draws])
            block = blocks[0] if len(blocks) == 1 else tf.concat(blocks, 0)  # (n_samples, entries, k)
            return tf.transpose(block, [2, 0, 1])[:rows]

        return _chunked(n, k, xs, keys, sample, (self.n_samples, self.entries))


def _ordered_sum(t):
    """`t[0] + t[1] + ...` over the first axis, in that order (NumPy's order for a non-contiguous axis).

    A loop, not a chain of adds: TensorFlow's graph optimiser rewrites a
    chain of adds into one `AddN`, which sums in another order.
    """
    import tensorflow as tf

    def body(i, total):
        return i + 1, total + t[i]

    _, total = tf.while_loop(lambda i, _: i < tf.shape(t)[0], body, (tf.constant(1), t[0]))
    return total


def _divide(x, count: int):
    """`x / count` as NumPy divides (the graph optimiser turns a division by a constant into a product)."""
    import tensorflow as tf

    return tf.math.divide_no_nan(x, tf.constant(count, tf.float64))


def _entropy(p):
    """`metrics.uncertainty._entropy` of float64 probabilities `(..., classes)` over the last axis."""
    import tensorflow as tf

    p = tf.clip_by_value(p, 0.0, 1.0)
    terms = tf.where(p > 0, p * tf.math.log(tf.where(p > 0, p, tf.ones_like(p))), tf.zeros_like(p))
    r = len(p.shape)
    return -_ordered_sum(tf.transpose(terms, [r - 1, *range(r - 1)]))


def _mean_over_draws(draws, n_samples: int):
    """`MCResult.mean` of float64 `draws` `(n_samples, ...)`: the samples summed in order, then divided."""
    return _divide(_ordered_sum(draws), n_samples)


def _summaries(samples, names: tuple, include_samples: bool, heteroscedastic: bool = False) -> dict:
    """The summaries `names` of float32 samples `(n, n_samples, *dims, classes)`, as `MCResult` computes them.

    `heteroscedastic`: the last axis holds `d` means then `d` log-variances;
    the means are the samples and `exp` of the log-variances (float32, as
    `mc_predict`) the noise variance.
    """
    import tensorflow as tf

    n_samples, r = samples.shape[1], len(samples.shape)
    noise = None
    if heteroscedastic:
        d = samples.shape[-1] // 2
        samples, noise = samples[..., :d], tf.exp(samples[..., d:])
    to_draws = [1, 0, *range(2, r)]  # (n, n_samples, ...) -> (n_samples, n, ...)
    draws = tf.cast(tf.transpose(samples, to_draws), tf.float64)
    mean = _mean_over_draws(draws, n_samples)
    out = {}
    if {"variance", "std", "epistemic_variance", "predictive_variance", "predictive_std"} & set(names):
        if n_samples < 2:
            variance = tf.fill(tf.shape(mean), tf.constant(np.nan, tf.float64))
        else:
            dev = draws - mean
            variance = _divide(_ordered_sum(dev * dev), n_samples - 1)
    if {"aleatoric_variance", "predictive_variance", "predictive_std"} & set(names):
        aleatoric = _mean_over_draws(tf.cast(tf.transpose(noise, to_draws), tf.float64), n_samples)
    if "mean" in names:
        out["mean"] = mean
    if "variance" in names:
        out["variance"] = variance
    if "std" in names:
        out["std"] = tf.sqrt(variance)
    if "aleatoric_variance" in names:
        out["aleatoric_variance"] = aleatoric
    if "epistemic_variance" in names:
        out["epistemic_variance"] = variance
    if "predictive_variance" in names:
        out["predictive_variance"] = variance + aleatoric
    if "predictive_std" in names:
        out["predictive_std"] = tf.sqrt(variance + aleatoric)
    if {"predictive_entropy", "mutual_information"} & set(names):
        pe = _entropy(mean)
    if {"expected_entropy", "mutual_information"} & set(names):
        ee = _divide(_ordered_sum(_entropy(draws)), n_samples)
    if "predictive_entropy" in names:
        out["predictive_entropy"] = pe
    if "expected_entropy" in names:
        out["expected_entropy"] = ee
    if "mutual_information" in names:
        out["mutual_information"] = tf.maximum(pe - ee, 0.0)
    if include_samples:  # (n, *dims, classes, n_samples), as MCResult.samples (and noise_variance)
        out["samples"] = tf.transpose(samples, [0, *range(2, r), 1])
        if heteroscedastic:
            out["noise_variance"] = tf.transpose(noise, [0, *range(2, r), 1])
    return out



class _Head(NamedTuple):
    """One model output as exported: its summaries are served as `prefix + summary`."""

    name: str  # the model output's name
    shape: tuple  # (*dims, classes) (heteroscedastic: (*dims, 2 * d))
    task: str
    from_logits: bool
    heteroscedastic: bool
    summaries: tuple
    prefix: str  # "" for a model with one output, else "<name>/"

    @property
    def kind(self) -> str:
        """The key of `OUTPUTS` that lists this output's summaries."""
        return "heteroscedastic" if self.heteroscedastic else self.task


class _ExportModule:
    """Builds the `tf.Module` to save: the variables it reads and its two signatures."""

    def __init__(self, members: list[_Member], specs: list[tuple], names: list[str], heads: list, include_samples):
        import tensorflow as tf

        self.members, self.heads, self.include_samples = members, heads, include_samples
        self.names = names
        self.module = tf.Module()
        seen, tracked = set(), []
        for member in members:
            for v in member.variables:
                tv = _tf_variable(v)
                if id(tv) not in seen:
                    seen.add(id(tv))
                    tracked.append(tv)
        self.module.weights = tracked
        x_specs = [tf.TensorSpec((None, *shape[1:]), dtype, name=name) for (shape, dtype), name in zip(specs, names)]
        seed_spec = tf.TensorSpec((), tf.int64, name="seed")
        key_spec = tf.TensorSpec((None,), tf.int64, name="key")

        # One trace of the sampling graph, called by both signatures.
        self.seeded = tf.function(
            lambda *args: self._run(list(args[:-2]), *args[-2:]),
            input_signature=[*x_specs, seed_spec, key_spec], autograph=False,
        )

        def unseeded(*xs):
            seed = tf.raw_ops.RandomUniformInt(  # seed=0, seed2=0: fresh entropy in every process and call
                shape=tf.zeros([0], tf.int32), minval=tf.constant(0, tf.int64), maxval=tf.constant(INT64_MAX, tf.int64), seed=0, seed2=0
            )
            return self.seeded(*xs, seed, tf.range(tf.shape(xs[0])[0], dtype=tf.int64))

        self.serving_default = tf.function(unseeded, input_signature=x_specs, autograph=False)
        self.module.serving_default = self.serving_default
        self.module.seeded = self.seeded

        def predict(*xs, seed=None, key=None):
            if seed is None:
                return self.serving_default(*xs)
            return self.seeded(*xs, seed, tf.range(tf.shape(xs[0])[0], dtype=tf.int64) if key is None else key)

        # For Python and R: `predict(x)`, `predict(x, seed=s)` (keys: row indices), `predict(x, seed=s, key=k)`.
        self.module.predict = tf.function(predict, autograph=False)
        for extra in ({}, {"seed": seed_spec}, {"seed": seed_spec, "key": key_spec}):
            self.module.predict.get_concrete_function(*x_specs, **extra)

    def _run(self, xs: list, seed, keys):
        import tensorflow as tf

        n = tf.shape(xs[0])[0]
        checks = [
            tf.debugging.assert_non_negative(seed, message="`seed` must be a non-negative integer."),
            tf.debugging.assert_equal(
                tf.shape(keys)[0], n, message="`key` must hold one int64 key per input row (its length is n)."
            ),
        ]
        for x, name in zip(xs, self.names):
            checks.append(tf.debugging.assert_equal(tf.shape(x)[0], n, message="All inputs need the same number of rows."))
            if x.dtype.is_floating:
                checks.append(tf.debugging.assert_all_finite(x, f"Input {name!r} holds NaN or infinite values."))
        with tf.control_dependencies(checks):
            keys = tf.identity(keys)
        if len(self.members) == 1:
            samples = self.members[0].samples(xs, keys, seed)
        else:  # member-major, as mc_predict_ensemble
            samples = tf.concat(
                [m.samples(xs, keys, member_seed(seed, j)) for j, m in enumerate(self.members)], axis=1
            )
        out = {}
        for head, part in zip(self.heads, _split_outputs(samples, [h.shape for h in self.heads])):
            for name, value in _summaries(part, head.summaries, self.include_samples, head.heteroscedastic).items():
                out[head.prefix + name] = value
        return out

    def signatures(self) -> dict:
        return {
            "serving_default": self.serving_default.get_concrete_function(),
            SEEDED_SIGNATURE: self.seeded.get_concrete_function(),
        }


# --------------------------------------------------------------------------
# Arguments and the directory


def _kind_words(kind: str) -> str:
    return "task='regression' with heteroscedastic=True" if kind == "heteroscedastic" else f"task={kind!r}"


def _check_names(names, kind: str, where: str, arg: str) -> tuple:
    """One output's summaries `names`, checked against `OUTPUTS[kind]`; `where`: " of output 'y'" or ""."""
    allowed = OUTPUTS[kind]
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise TypeError(
            f"Invalid value received for argument `{arg}`. Expected a list of names among "
            f"{', '.join(allowed)}. Received: {arg}={names!r}"
        )
    names = tuple(names)
    bad = [o for o in names if o not in allowed]
    if bad or not names or len(set(names)) != len(names):
        why = (
            f"{bad[0]!r} is not a summary{where} ({_kind_words(kind)})" if bad and where
            else f"{bad[0]!r} is not a summary of {_kind_words(kind)}" if bad
            else "no names" if not names else "a name given twice"
        )  # fmt: skip
        raise ValueError(
            f"Invalid value received for argument `{arg}` ({why}). Expected one or more "
            f"distinct names among {', '.join(allowed)} (the samples: include_samples=True). "
            f"Received: {arg}={list(names)!r}"
        )
    return names


def _check_outputs(outputs, heads: list[tuple[str, str]]) -> list[tuple]:
    """The summaries of each output `(name, kind)`: `outputs` None, one list for all, or a dict by output name."""
    several = len(heads) > 1
    if outputs is None:
        return [_DEFAULT_OUTPUTS[kind] for _, kind in heads]
    if isinstance(outputs, dict):
        known = [name for name, _ in heads]
        unknown = [k for k in outputs if k not in known]
        if unknown:
            raise ValueError(
                f"Invalid value received for argument `outputs` ({unknown[0]!r} is not an output of the "
                f"model). Expected a dict keyed by the model's output names: {', '.join(map(repr, known))}. "
                f"Received: outputs={outputs!r}"
            )
        return [
            _check_names(outputs[name], kind, f" of output {name!r}" if several else "", f"outputs[{name!r}]")
            if name in outputs else _DEFAULT_OUTPUTS[kind]
            for name, kind in heads
        ]  # fmt: skip
    checked = []
    for name, kind in heads:
        try:
            checked.append(_check_names(outputs, kind, f" of output {name!r}" if several else "", "outputs"))
        except ValueError as err:
            if not several:
                raise
            raise ValueError(
                f"{err}. One list applies to every output; give each output its own as a dict: "
                f"outputs={{{', '.join(f'{n!r}: [...]' for n, _ in heads)}}}."
            ) from None
    return checked


def _check_target(path, overwrite: bool) -> str:
    """The absolute target directory; raises unless it can be (re)written."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(
            "Invalid value received for argument `path`. Expected a directory path (str or "
            f"os.PathLike). Received: path={path!r}"
        )
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        raise FileNotFoundError(
            f"Cannot export to {path!r}: the folder {parent!r} does not exist. Create it first."
        )
    if os.path.lexists(path) and not os.path.isdir(path):
        raise FileExistsError(
            f"Cannot export to {path!r}: it is a file. A SavedModel is a directory; give a new directory path."
        )
    if os.path.isdir(path) and os.listdir(path):
        if not overwrite:
            raise FileExistsError(
                f"Cannot export to {path!r}: the directory exists and is not empty. Pass "
                "overwrite=True (CLI: --overwrite) to replace it, or give a new directory."
            )
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise FileExistsError(
                f"Cannot export to {path!r}: the directory is not empty and holds no SavedModel "
                "(no saved_model.pb), so overwrite=True does not delete it. Give a new directory."
            )
    return path


def _write(module: _ExportModule, path: str, manifest: dict) -> None:
    """Save into a temporary sibling directory, then rename it to `path`: never a half-written `path`."""
    import tensorflow as tf

    parent = os.path.dirname(path)
    try:
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.export-", dir=parent)
    except OSError as err:
        raise type(err)(
            err.errno,
            f"Cannot export to {path!r}: nothing can be written in {parent!r} ({err.strerror or err}). "
            "Choose a writable folder",
        ) from None
    old = None
    try:
        tf.saved_model.save(module.module, tmp, signatures=module.signatures())
        os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
        with open(os.path.join(tmp, "assets.extra", MANIFEST), "w") as f:
            json.dump(manifest, f, indent=2)
        shareable(tmp)  # (mkdtemp's folder is private; a server running as another user must read it)
        if os.path.isdir(path) and os.listdir(path):  # overwrite=True (checked): swap, then remove the old one
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-", dir=parent)
            os.rename(path, os.path.join(old, "model"))
            try:
                os.rename(tmp, path)
            except OSError:
                os.rename(os.path.join(old, "model"), path)
                raise
        else:
            if os.path.isdir(path):
                os.rmdir(path)  # (an empty directory)
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------
# The public function


def export(
    model,
    path,
    *,
    n_samples: int = 50,
    precision: str = "float32",
    outputs=None,
    include_samples: bool = False,
    overwrite: bool = False,
    task="classification",
    from_logits=False,
    heteroscedastic=False,
    batch_size: int = 128,
    memory_budget: int | None = None,
    input_shape=None,
) -> str:
    """Write `model` as a TensorFlow SavedModel that serves MC dropout summaries.

    The SavedModel's signatures take a batch of inputs (`x`; a model with
    several inputs: one argument per input, named as the model's inputs)
    and return float64 summaries over `n_samples` MC samples, computed by
    `mc_predict`'s engine: `serving_default(x)` draws fresh masks on every
    call; `seeded(x, seed, key)` (int64 scalar `seed >= 0`, int64 `key`
    `(n,)`) gives row `i` the samples `mc_predict(model, x, seed=seed)`
    gives the row with index `key[i]` (bit for bit on the same CPU when the
    chunk shape is the same: `batch_size` and `memory_budget` as here; see
    the module docstring). Loading needs TensorFlow only
    (`tf.saved_model.load(path)`); TensorFlow Serving serves it as it is.

    Signature outputs are named by summary (`"mean"`, ...); for a model
    with several outputs, by output and summary: `"<output name>/mean"`
    (the names of `model.output_names`).

    Args:
        model: A `keras.Model` `mc_predict` samples (outputs `(batch, *dims,
            classes)`; several outputs too), or an `mcbridge.Ensemble` (one
            SavedModel for all members; samples member-major as
            `mc_predict` gives them: with `n_samples=1` each member
            predicts once, deterministically).
        path: The SavedModel directory to create (it must not exist or be
            empty; its folder must exist).
        n_samples: MC samples per input (per member for an ensemble).
        precision: `"float32"` or `"bfloat16"` (see `mc_predict`), fixed
            at export on this CPU: without bfloat16 instructions it warns
            and exports float32.
        outputs: Summaries to serve, among `OUTPUTS[kind]` for each model
            output's kind (its task, or `"heteroscedastic"`): `"mean"`,
            `"variance"`, `"std"` (`(n, *dims, classes)`); classification:
            `"predictive_entropy"`, `"expected_entropy"`,
            `"mutual_information"` (`(n, *dims)`); heteroscedastic:
            `"aleatoric_variance"`, `"epistemic_variance"` (= `variance`),
            `"predictive_variance"`, `"predictive_std"` (`(n, *dims, d)`).
            One list for every output, or a dict from output name to list
            (outputs it leaves out get the defaults). None: mean, variance,
            predictive entropy and mutual information (regression: mean and
            variance; heteroscedastic: mean, aleatoric, epistemic and
            predictive variance).
        include_samples: Also serve `"samples"`, float32 `(n, *dims,
            classes, n_samples)` (heteroscedastic: the means, and
            `"noise_variance"` of the same shape).
        overwrite: Replace an existing SavedModel directory at `path`.
        task: `"classification"` or `"regression"` (see `mc_predict`); one
            value, or one per model output.
        from_logits: Apply a softmax over the last axis of each sample; one
            value, or one per output.
        heteroscedastic: Regression only: the output `(batch, *dims, 2 * d)`
            holds `d` means then `d` log-variances, split as `mc_predict`
            splits them; one value, or one per output.
        batch_size: Inputs per compiled call (as `mc_predict`'s).
        memory_budget: Bytes of activations per compiled call (None: the
            default of `mc_predict`).
        input_shape: For a model built on inputs of unknown size
            (`keras.Input((None, None, 3))`): the size it serves, each
            input's shape but the batch axis, e.g. `(128, 128, 3)` (a list
            of them for several inputs). None: the model's own (all known).

    Returns:
        The absolute path of the SavedModel directory.

    Raises:
        TypeError: an argument of the wrong type, or `model` is not a Keras
            model or an `Ensemble`.
        ValueError: inputs of unknown size that leave an output's size
            unknown, without `input_shape`, or an `input_shape` that does
            not fit the model's inputs; a model
            `mc_predict` cannot sample (no dropout, random
            layers mcbridge cannot sample, a subclassed model), a summary
            that does not apply to an output (e.g. an entropy of a regression
            output) or an unknown output name, `heteroscedastic=True` on an
            output with an odd last axis, or classification outputs that are
            not probabilities while `from_logits=False`.
        FileExistsError: `path` is a file or a non-empty directory (without
            `overwrite`, or not a SavedModel).
        FileNotFoundError: the folder of `path` does not exist.
        OSError: (e.g. PermissionError) nothing can be written there. On
            any error nothing is left at `path` or beside it.
    """
    import keras

    from mcbridge._engine.plan import resolve_precision
    from mcbridge._predict_model import DEFAULT_MEMORY_BUDGET
    from mcbridge.ensemble import Ensemble

    n_samples = positive_int("n_samples", n_samples)
    batch_size = positive_int("batch_size", batch_size)
    memory_budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else check_int(
        "memory_budget", memory_budget, minimum=1, maximum=INT64_MAX
    )
    precision = check_precision(precision)
    include_samples = check_bool("include_samples", include_samples)
    overwrite = check_bool("overwrite", overwrite)
    ensemble = isinstance(model, Ensemble)
    models = list(model.members) if ensemble else [model]
    for m in models:
        check_model(m)
    models = _on_served_shape(models, *model_io(models[0], "export"), input_shape)
    specs, out_shapes = model_io(models[0], "export")
    shapes = check_output_shapes(models[0], out_shapes, "export")
    tasks = check_tasks(task, from_logits, heteroscedastic, len(shapes))
    out_names = output_names(models[0])
    if len(shapes) > 1 and len(set(out_names)) != len(out_names):
        raise ValueError(
            f"Model {models[0].name!r} has outputs named {out_names}: the signature outputs are named "
            "'<output name>/<summary>', so each output needs its own name. Give the output layers "
            "distinct names (name=...)."
        )
    for name, shape, (_, _, hetero) in zip(out_names, shapes, tasks):
        if hetero and shape[-1] % 2:
            raise ValueError(
                f"Output {name!r} of model {models[0].name!r} has shape (batch, {', '.join(map(str, shape))}); "
                "heteroscedastic=True needs an even number of entries on its last axis: d means, "
                "then d log-variances."
            )
    kinds = ["heteroscedastic" if hetero else t for t, _, hetero in tasks]
    summaries = _check_outputs(outputs, list(zip(out_names, kinds)))
    several = len(shapes) > 1
    heads = [
        _Head(name, shape, t, logits, hetero, names, f"{name}/" if several else "")
        for name, shape, (t, logits, hetero), names in zip(out_names, shapes, tasks, summaries)
    ]  # fmt: skip
    names = ["x"] if len(specs) == 1 else input_names(models[0])
    if {"seed", "key"} & set(names):
        raise ValueError(
            f"Model {models[0].name!r} has inputs named {names}; the seeded signature's own inputs are "
            "`seed` and `key`. Rename those model inputs (keras.Input(name=...)) before exporting."
        )
    path = _check_target(path, overwrite)
    if ensemble:  # (what the exported graph computes for an ensemble; mc_predict takes more)
        io = model._io
        if any(order != list(range(len(order))) for order in io.inputs + io.outputs):
            raise ValueError(
                "The ensemble's members order their inputs or outputs differently; export takes "
                "ensembles whose members share one input and output order (mcbridge.mc_predict"
                "(ensemble, x) takes them all). Export each member on its own, or rebuild the members "
                "with the same order."
            )
    if any(h.task == "classification" and h.from_logits for h in heads):
        for m in models:
            warn_from_logits(m, True)
    deterministic = ensemble and n_samples == 1
    if deterministic and precision != "float32":
        raise ValueError(
            f"precision={precision!r} applies to MC sampling (n_samples > 1): with n_samples=1 each "
            "ensemble member predicts once. Pass precision='float32', or n_samples > 1."
        )
    precision = resolve_precision(precision)  # (what the CPU offers: after every argument check)
    members = []
    logits = [h.from_logits for h in heads]
    for j, m in enumerate(models):
        try:
            members.append(_Member(m, n_samples, batch_size, memory_budget, precision, logits, deterministic))
        except ValueError as err:
            where = f"Ensemble member {j + 1} ({m.name!r}): " if ensemble else ""
            hint = " (For a plain deep ensemble export with n_samples=1.)" if ensemble and "no dropout" in str(err) else ""
            raise ValueError(f"{where}{err}{hint}".replace("mc_predict needs", "export needs")) from None
        if members[-1].shapes != members[0].shapes:
            raise ValueError(
                f"Ensemble member {j + 1} has outputs {members[-1].shapes}, member 1 {members[0].shapes}: "
                "an ensemble's members need the same output shape."
            )
    module = _ExportModule(members, specs, names, heads, include_samples)
    _check_probabilities(module, specs)
    keys = [
        h.prefix + s for h in heads
        for s in (*h.summaries, *(("samples", "noise_variance") if h.heteroscedastic else ("samples",)))
        if s in h.summaries or include_samples
    ]  # fmt: skip
    manifest = {
        "format": "mcbridge.export",
        "format_version": 1,
        "task": heads[0].task if not several else [h.task for h in heads],
        "n_samples": n_samples,
        "members": len(models),
        "samples_per_input": n_samples * len(models),
        "outputs": keys,
        "model_outputs": [
            {
                "name": h.name, "shape": list(h.shape), "task": h.task, "from_logits": h.from_logits,
                "heteroscedastic": h.heteroscedastic, "signature_outputs": [k for k in keys if k.startswith(h.prefix)],
            }
            for h in heads
        ],  # fmt: skip
        "inputs": names,
        "precision": precision,
        "from_logits": heads[0].from_logits if not several else [h.from_logits for h in heads],
        "batch_size": batch_size,
        "memory_budget": memory_budget,
        "signatures": {"serving_default": names, SEEDED_SIGNATURE: [*names, "seed", "key"]},
        "keras_version": keras.__version__,
    }
    _write(module, path, manifest)
    return path


def _on_served_shape(models: list, specs: list, out_shapes: list, input_shape) -> list:
    """`models`, or their views on `input_shape` (`graph.on_input_shapes`) when it is given.

    Raises:
        ValueError: inputs of unknown size that leave an output's size
            unknown, without `input_shape`; an `input_shape` of another
            rank or with another known size.
    """
    unknown = any(d is None for shape, _ in specs for d in shape[1:]) and any(
        d is None for shape in out_shapes for d in shape[1:]
    )
    if input_shape is None:
        if unknown:
            raise ValueError(
                f"Model {models[0].name!r} has inputs of unknown size {[shape for shape, _ in specs]}; a "
                "SavedModel serves one size: pass it, e.g. export(model, path, input_shape=(128, 128, 3)) "
                "(a list of one shape per input for several inputs)."
            )
        return models
    several = isinstance(input_shape, (list, tuple)) and len(input_shape) and isinstance(input_shape[0], (list, tuple))
    shapes = [tuple(s) for s in input_shape] if several else [tuple(input_shape)]
    fits = len(shapes) == len(specs) and all(
        len(s) == len(shape) - 1 and all(isinstance(d, (int, np.integer)) and d > 0 for d in s)
        and all(m is None or m == d for m, d in zip(shape[1:], s))
        for s, (shape, _) in zip(shapes, specs)
    )
    if not fits:
        raise ValueError(
            "Invalid value received for argument `input_shape`. Expected the shape of each model input "
            f"but the batch axis, positive integers that fit {[shape for shape, _ in specs]}. Received: "
            f"input_shape={input_shape!r}"
        )
    from mcbridge._engine.graph import on_input_shapes

    return [on_input_shapes(m, shapes) for m in models]


def load_exportable(path, safe_mode: bool = True):
    """The model in a `.keras` file, or the `Ensemble` in an `Ensemble.save` file, loaded for `export`.

    Keras' safe mode by default (no code stored in the file runs); the
    training configuration is not restored (export needs layers and weights only).

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the file cannot be loaded (see `mcbridge.load_model`).
    """
    import zipfile

    path = os.fspath(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            if "ensemble.json" in zf.namelist():
                from mcbridge.ensemble import load_ensemble

                return load_ensemble(path, safe_mode=safe_mode, compile=False)
    from mcbridge.models import load_model

    return load_model(path, safe_mode=safe_mode, compile=False)


def _check_probabilities(module: _ExportModule, specs: list) -> None:
    """One seeded run on two zero inputs: classification samples (not logits) must be probabilities (`ValueError`)."""
    import tensorflow as tf

    from mcbridge._predict_model import _check_classifier_block

    heads = module.heads
    if not any(h.task == "classification" and not h.from_logits for h in heads):
        return
    xs = [tf.zeros((2, *shape[1:]), dtype) for shape, dtype in specs]
    keys = tf.range(2, dtype=tf.int64)
    for j, member in enumerate(module.members):
        samples = member.samples(xs, keys, tf.constant(j, tf.int64))
        for head, part in zip(heads, _split_outputs(samples, [h.shape for h in heads])):
            if head.task != "classification" or head.from_logits:
                continue
            part = part.numpy()  # (n, S, *dims, classes)
            block = part.reshape(-1, part.shape[-1])[:, :, None]  # (rows, classes, 1)
            try:
                _check_classifier_block(block)
            except ValueError as err:
                where = f"Output {head.name!r}: " if head.prefix else ""
                raise ValueError(where + str(err).replace("mc_predict(", "export(")) from None


class _CallableModule(types.ModuleType):
    """`mcbridge.export` is this module (reachable lazily, as the optional parts are) and calls `export`."""

    def __call__(self, model, path, **kwargs) -> str:
        return export(model, path, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
