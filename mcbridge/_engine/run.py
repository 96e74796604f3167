"""The compiled functions of one model and the chunk loop.

A `Sampler` rebuilds the model's graph once (cached per model) around the
*same* layers and weights, with every sampled layer replaced by an
always-sampling copy (`registry.sampling_copy`), and splits it as its
`plan.Layout` says:

* the deterministic prefix runs once per input, and its output is cropped
  to the region the model's output depends on;
* its output is replicated along the batch axis, one replica per MC sample,
  and the stochastic suffix runs on all replicas in one compiled call, so
  each replica draws its own masks. The first sampled layer of a chain is
  applied to the broadcast prefix output, so the replicas are never copied;
  a dropout followed by a 2x2 max-pool runs with it as one step (one fused
  kernel, `masks.keyed_dropout`).

Calls have a fixed shape (`k` inputs x `m` samples, the last chunk padded),
so the compiled functions are traced once. Every other layer runs in
inference mode (BatchNormalization uses its moving statistics).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import weakref
from collections.abc import Callable, Sequence

import keras
import numpy as np

from mcbridge._engine import graph, masks, registry
from mcbridge._engine.sampling import BitMaskSampling
from mcbridge._engine.plan import ChunkPlan, Layout, chunk_plan, layout_for
from mcbridge._progress import progress_bar
from mcbridge.switch import iter_layers

#: The Keras dtype policy of the engine's bfloat16 copies: float32 weights
#: (refreshed from the model's own at every call), bfloat16 computation.
_LOW_POLICY = "mixed_bfloat16"


def _compile(fn):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        _quiet_per_structure_traces()
        return tf.function(fn, jit_compile=False, reduce_retracing=True, autograph=False)
    return fn


_OWN_FUNCTIONS = ("<function Sampler.", "<function _on_values.")


class _PerStructureTraces(logging.Filter):
    """Drops TensorFlow's "N out of the last M calls to <f> triggered retracing" for the engine's own `f`.

    TensorFlow counts traces by a function's code, so compiled parts shared
    per model structure (`_shared_compiled`) look like retracing when several
    structures are used in turn (an ensemble of two architectures, a
    hyperparameter search). Each structure is traced once by design, and
    calls with new shapes relax to a general trace (`reduce_retracing`).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message and any(f in message for f in _OWN_FUNCTIONS))


def _quiet_per_structure_traces() -> None:
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _PerStructureTraces) for f in logger.filters):
        logger.addFilter(_PerStructureTraces())


def activation_bytes(model) -> int:
    """Bytes of all layer outputs of `model` for one row (an upper bound)."""
    total = 0
    for layer in iter_layers(model):
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):
            continue
        total += 4 * int(np.prod([d for d in shape[1:] if d is not None], dtype=np.int64))
    return max(total, 4)


# The layers that run in bfloat16 under precision="bfloat16": those whose cost
# is matrix work (oneDNN has bfloat16 kernels for them). The element-wise
# work around them (dropout masks, pooling, activations of other layers) stays
# float32: TensorFlow's element-wise bfloat16 kernels measured no faster, the
# multiply slower, on CPU (BENCHMARKS.md).
_MATMUL_LAYERS = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
    keras.layers.Dense,
    keras.layers.EinsumDense,
)


def _low_precision_copy(layer, pairs: list):
    """A copy of a matrix-work `layer` computing in bfloat16 (`_LOW_POLICY`); other layers as they are.

    The copy is made from the layer's config and `(copy, layer)` appended to
    `pairs`, so that its weights can be refreshed from the model's
    (`Sampler.sync_weights`). Keras casts a bfloat16 copy's inputs to
    bfloat16, and the float32 layer after it casts its output back.
    """
    if not isinstance(layer, _MATMUL_LAYERS) or registry.is_sampled(layer):
        return layer
    try:
        copy = _in_low_precision(layer)
    except Exception:  # a subclass without a complete config: keep it, in float32
        return layer
    pairs.append((copy, layer))
    return copy


def _in_low_precision(layer):
    """`layer` rebuilt from its config under `_LOW_POLICY` (new weights, if it has any)."""
    return type(layer).from_config({**layer.get_config(), "dtype": _LOW_POLICY})


_RESHAPES = (keras.layers.Flatten, keras.layers.Reshape)


def _cast_in_masks(layers: list) -> None:
    """Bit-mask dropouts whose output a bfloat16 layer reads (through reshapes) cast it themselves.

    The values are the same; the cast is fused into the mask kernel instead
    of a pass over the tensor of its own. The reshapes in between become
    bfloat16 copies (they would cast back to float32).
    """
    for i, layer in enumerate(layers):
        if not isinstance(layer, BitMaskSampling):
            continue
        j = i + 1
        while j < len(layers) and isinstance(layers[j], _RESHAPES):
            j += 1
        if j < len(layers) and getattr(layers[j], "compute_dtype", None) == "bfloat16":
            layer.output_dtype = "bfloat16"
            layers[i + 1 : j] = [_in_low_precision(reshape) for reshape in layers[i + 1 : j]]


def _build(
    model: keras.Model,
    layout: Layout,
    input_spec,
    replicas: int | None = None,
    precision: str = "float32",
    pairs: list | None = None,
):
    """`(prefix or None, suffix)`: the rebuilt graph split as `layout` says.

    `replicas`: the `m` that per-replica copies (DropConnect) are built for.
    `precision="bfloat16"`: the convolutions and dense layers of the
    stochastic suffix, but the output layer, compute in bfloat16
    (`_low_precision_copy`, each copy with its source appended to `pairs`);
    in a general graph those of the whole model but the output layers.
    """

    made = set()  # ids of the sampling copies
    low = precision == "bfloat16"
    pairs = [] if pairs is None else pairs

    def plain_copy(layer):
        copy = registry.sampling_copy(layer, replicas=replicas)
        made.add(id(copy))
        return copy

    if layout.chain is None:
        # A general graph (nested graph models holding a sampled layer inlined).
        others = None
        if low:  # every layer but the output layers
            outputs = {id(t._keras_history[0]) for t in model.outputs}

            def others(layer):
                return layer if id(layer) in outputs else _low_precision_copy(layer, pairs)

        view = graph.rebuild(model, plain_copy, others)
        return (None, view) if not layout.split else _cut(view, made)

    def copy(i, layer):
        if registry.is_sampled(layer):
            mask_layout = "elements"
            if i in layout.pooled:  # the fast path pools in the same step and leaves the pool out
                mask_layout = "pooled" if layout.split else "windows"
            return registry.sampling_copy(layer, live=layout.live[i], mask_layout=mask_layout, replicas=replicas)
        if isinstance(layer, keras.Model) and graph.contains_sampled(layer):
            return graph.rebuild(layer, plain_copy)
        return layer

    layers = [
        copy(i, layer) for i, layer in enumerate(layout.chain) if not (layout.split and i - 1 in layout.pooled)
    ]  # (the pools left out all come after `first`)
    first = layout.first if layout.split else 0
    if low:  # the suffix but its output layer (float32 probabilities and their sums)
        layers[first:-1] = [_low_precision_copy(layer, pairs) for layer in layers[first:-1]]
        _cast_in_masks(layers)
    view = graph.chain_model(input_spec, layers)
    if not layout.split:  # the reference: every layer runs on every replica
        return None, view
    if layout.crop is None and first == 0:
        return None, view
    crop = [] if layout.crop is None else [graph.cropping_layer(*layout.crop)]
    prefix = graph.chain_model(input_spec, [*layers[:first], *crop])
    suffix = keras.Sequential([keras.Input(prefix.outputs[0].shape[1:]), *layers[first:]])
    return prefix, suffix


def _cut(view: keras.Model, made: set) -> tuple:
    """`(prefix, suffix)` of a general graph: the prefix computes what no sampling copy reaches; `(None, view)` if nothing.

    The suffix starts from every tensor that the deterministic part hands
    to the stochastic part (in a U-Net with dropout at the bottleneck: the
    bottleneck's input and each skip connection), so the prefix runs once
    per input. No cut when a Keras mask is made (a cut would drop it: an
    `Embedding(mask_zero=True)` before a recurrent layer), when an output
    does not depend on any sampled layer, or when Keras cannot build the parts.
    """
    if any(graph.makes_mask(layer) for layer in iter_layers(view)):
        return None, view
    try:
        stochastic, cuts = set(), {}
        for depth in sorted(view._nodes_by_depth, reverse=True):  # (Keras' graph bookkeeping: inputs first)
            for node in view._nodes_by_depth[depth]:
                inputs = list(node.input_tensors)
                if id(node.operation) in made or any(id(t) in stochastic for t in inputs):
                    stochastic.update(id(t) for t in node.outputs)
                    cuts.update({id(t): t for t in inputs if id(t) not in stochastic})
        cuts = list(cuts.values())
        if not cuts or any(id(t) not in stochastic for t in view.outputs) or all(
            any(t is i for i in view.inputs) for t in cuts
        ):
            return None, view
        cut = cuts[0] if len(cuts) == 1 else cuts
        return keras.Model(view.inputs, cut), keras.Model(cut, view.outputs)
    except Exception:  # (Keras cannot build the parts: no cut)
        return None, view


@dataclasses.dataclass(frozen=True)
class _Parts:
    """The stochastic suffix for one replica count, and what runs it."""

    suffix: keras.Model
    head: keras.layers.Layer | None  # the first sampled layer, fused with the replication
    rest: keras.Model | None  # what follows the head
    generators: list  # its sampling copies' seed generators, in a fixed order
    structure: tuple | None  # what the traced suffix computes, but the values (`structure_key`)


class Sampler:
    """Compiled prefix / suffix functions for one model (cached per model).

    Attributes:
        layout: The model's `plan.Layout`.
        prefix, suffix: The split rebuilt graph (prefix None: nothing runs once).
        input_specs: `(shape, dtype)` of each model input (`input_shape`,
            `input_dtype`: the first's).
        output_shapes: Each output's shape but the batch axis, `(*dims, classes)`.
        n_outputs: Entries of all outputs per sample (`output_shapes`' sizes, summed).
        row_bytes: Activation bytes of one replica in the suffix (chunking).
    """

    def __init__(
        self,
        model: keras.Model,
        split: bool,
        input_spec: Callable[[keras.Model], tuple],
        precision: str = "float32",
    ):
        self.precision = precision
        self.signature = tuple(id(layer) for layer in iter_layers(model))
        if not registry.sampled_layers(iter_layers(model)):  # (refuses unknown randomness)
            raise ValueError(
                f"Model {model.name!r} has no dropout layer (nor any other layer "
                "mcbridge samples), so MC prediction has nothing to sample: every "
                "sample would be the same prediction. Use a model trained with "
                "dropout (e.g. mcbridge.build_cnn())."
            )
        self.input_specs = list(input_spec(model))
        self.input_shape, self.input_dtype = spec = self.input_specs[0]
        if not graph.is_graph_model(model):
            raise ValueError(
                f"Model {model.name!r} is a subclassed model "
                f"({type(model).__name__}); mc_predict needs a Sequential or "
                "functional model, whose graph it can rebuild. For a subclassed "
                "model built with mcbridge.layers.MCDropout, switch MC dropout on "
                "with mcbridge.mc_dropout(model) and call the model yourself."
            )
        self.layout = layout = layout_for(model, split)
        self._pairs: list = []  # (bfloat16 copy, the model's layer): weights to refresh
        self.prefix, self.suffix = _build(model, layout, spec, precision=precision, pairs=self._pairs)
        self._check_pairs()
        shapes = [tuple(t.shape) for t in self.suffix.outputs]
        if not shapes or any(len(shape) < 2 or None in shape[1:] for shape in shapes):
            raise ValueError(
                f"Model {model.name!r} has output shapes {shapes}; mc_predict needs outputs "
                "of shape (batch, *dims, classes) with every size known."
            )
        self.output_shapes = [tuple(int(d) for d in shape[1:]) for shape in shapes]
        self.n_outputs = sum(int(np.prod(shape)) for shape in self.output_shapes)
        self.row_bytes = activation_bytes(self.suffix)
        self._model_ids = {id(layer) for layer in iter_layers(model)}
        self._parts = {None: self._parts_of(self.suffix)}
        if layout.per_replica:  # built per replica count, on demand
            model_ref = weakref.ref(model)  # (the cache must not keep the model alive)
            self._rebuild = lambda m: _build(
                model_ref(), layout, spec, replicas=m, precision=precision, pairs=self._pairs
            )[1]
        self._prefix_fn = None if self.prefix is None else self._shared_prefix()
        self._suffix_fns: dict[tuple, Callable] = {}

    def _parts_of(self, suffix) -> _Parts:
        # The sampling copies' generators: the layers of `suffix` that are not the model's.
        generators = [
            g for layer in iter_layers(suffix) if id(layer) not in self._model_ids
            for g in registry.seed_generators(layer)
        ]  # fmt: skip
        # The first sampled layer applied to the broadcast inputs (and pooled).
        # (Not in the reference, which runs every layer as it is.)
        head = rest = None
        if self.layout.fused_head:
            head = suffix.layers[0]
            if len(suffix.layers) > 1:
                # (The layers' own `.input` is that of the uncropped view.)
                shape = head.compute_output_shape(suffix.inputs[0].shape)
                rest = keras.Sequential([keras.Input(shape[1:]), *suffix.layers[1:]])
        structure = self._structure(suffix)
        if structure is not None:
            structure = ("suffix", structure, head is not None, self.n_outputs)
        return _Parts(suffix, head, rest, generators, structure)

    def _structure(self, part: keras.Model) -> tuple | None:
        """`chain_structure` of a part of a chain model; None for a general graph's parts."""
        if self.layout.chain is None:  # (a general graph's config names its layers: not compared)
            return None
        return chain_structure(part.layers, part.inputs[0])

    def _shared_prefix(self) -> Callable:
        """The compiled prefix, `run(x)` -> its output; shared by models of the same structure (see `suffix_fn`)."""
        prefix = self.prefix
        variables = list(prefix.variables)
        structure = self._structure(prefix)
        fn = _shared_compiled(
            None if structure is None else ("prefix", structure),
            lambda: _on_values(variables, lambda x: prefix(x, training=False)),
        )
        return lambda x: fn(x, _values(variables))

    def parts(self, m: int) -> _Parts:
        """The suffix that runs `m` replicas per input (one for all `m` unless per-replica)."""
        if not self.layout.per_replica:
            return self._parts[None]
        with _LOCK:
            if m not in self._parts:
                self._parts[m] = self._parts_of(self._rebuild(m))
                self._check_pairs()
            return self._parts[m]

    def _check_pairs(self) -> None:
        for copy, layer in self._pairs:
            if [tuple(w.shape) for w in copy.weights] != [tuple(w.shape) for w in layer.weights]:
                raise ValueError(
                    f"Layer {layer.name!r} ({type(layer).__name__}) cannot be copied to run in "
                    "bfloat16 (its copy from its config has other weights). Use "
                    "mc_predict(..., precision='float32')."
                )

    def sync_weights(self) -> None:
        """Copy the model's current weights into the bfloat16 copies (cheap: a few assigns)."""
        for copy, layer in self._pairs:
            for w_copy, w in zip(copy.weights, layer.weights):
                w_copy.assign(w)

    def suffix_fn(self, m: int, from_logits) -> Callable:
        """The compiled suffix for `m` replicas, as `run(h, keys, first_sample, states)` -> samples `(m, n_outputs, k)`.

        `from_logits`: one bool for every output or one per output (a
        softmax over its last axis). Each output's `(*dims, classes)` entries
        come in Fortran order (the first axis fastest), so the samples of
        input `i` are `(*dims, classes, samples)` in Fortran order, the
        layout R arrays use; the outputs follow each other.

        `h`: the prefix output `(k, ...)`. Replica `r` of input `i` is MC
        sample `first_sample + r` (`first_sample[i] + r` for a `(k,)`
        vector: adaptive sampling) of the input with key `keys[i]`: its masks
        depend on those and the layer keys `states` (`(generators, 2)`, from
        `call_states`) only (`masks.keyed_rows`). Everything a call varies is
        an argument, so concurrent calls give the bits of sequential ones.

        The compiled function is shared by every model whose suffix has the
        same structure (`structure_key`): it runs on the weights passed to it
        (`keras.StatelessScope`), so a second model of an architecture traces
        nothing, and the XLA mask kernels are instantiated once per
        architecture, not per model (each instantiation inside a new traced
        function keeps memory that TensorFlow never frees).
        """
        if not isinstance(from_logits, (list, tuple)):
            from_logits = [from_logits] * len(self.output_shapes)
        key = (m, tuple(bool(v) for v in from_logits))
        from_logits = key[1]
        with _LOCK:
            if key not in self._suffix_fns:
                parts = self.parts(m)
                structure = None if parts.structure is None else (parts.structure, m, from_logits)
                fn = _shared_compiled(structure, lambda: self._suffix_body(parts, m, from_logits))
                variables = list(parts.suffix.variables)
                self._suffix_fns[key] = lambda h, keys, first, states: fn(h, keys, first, states, _values(variables))
            return self._suffix_fns[key]

    def _suffix_body(self, parts: _Parts, m: int, from_logits: bool):
        suffix, head, rest, shapes, generators = parts.suffix, parts.head, parts.rest, self.output_shapes, parts.generators
        variables = list(suffix.variables)
        ops = keras.ops

        def run(h, keys, first_sample, states, values):
            import tensorflow as tf

            k = ops.shape(keras.tree.flatten(h)[0])[0]
            first = tf.broadcast_to(tf.cast(first_sample, tf.int64), [k])  # (one for all, or one per input)
            samples = first[None, :] + tf.range(m, dtype=tf.int64)[:, None]  # (m, k)
            layer_states = {id(g): states[i] for i, g in enumerate(generators)}
            # (This body runs only while TensorFlow traces; tracing touches the
            # layers, e.g. a recurrent copy swaps its cell's mask maker: one at a time.)
            with _LOCK, masks.keyed_rows(keys, samples, layer_states), keras.StatelessScope(
                state_mapping=list(zip(variables, values))
            ):
                return body(h, k)

        def body(h, k):
            if head is not None:  # first dropout fused with the replication
                reps = head.call_replicated(h, m)
                out = reps if rest is None else rest(reps, training=False)
            else:
                reps = keras.tree.map_structure(lambda t: ops.tile(t, (m,) + (1,) * (len(t.shape) - 1)), h)
                out = suffix(reps, training=False)
            blocks = []
            for o, shape, logits in zip(keras.tree.flatten(out), shapes, from_logits):
                if logits:
                    o = ops.softmax(o, axis=-1)
                o = ops.reshape(ops.cast(o, "float32"), (m, k, *shape))
                r = len(shape)  # (m, k, d1, .., classes) -> (m, classes, .., d1, k): Fortran order per input
                o = ops.transpose(o, (0, *range(r + 1, 1, -1), 1))
                blocks.append(ops.reshape(o, (m, int(np.prod(shape)), k)))
            return blocks[0] if len(blocks) == 1 else ops.concatenate(blocks, axis=1)  # (m, n_outputs, k)

        return run

    def traceable_parts(self, m: int, from_logits) -> tuple:
        """What `prefix_out` and `suffix_fn(m, from_logits)` compile, not compiled: to trace into another graph.

        (`mcbridge.export` traces them into a SavedModel.) Each `run` reads
        its `variables` as the tensors `values` (`keras.StatelessScope`).

        Returns:
            `(prefix, suffix, n_generators)`: `prefix` None (nothing runs
            once) or `(run, variables)` with `run(x, values)` -> the prefix
            output; `suffix` `(run, variables)` with `run(h, keys,
            first_sample, states, values)` -> the samples `(m, n_outputs, k)`
            `suffix_fn` gives; `n_generators` the rows of `states`
            (`call_states(seed, m)`).
        """
        if not isinstance(from_logits, (list, tuple)):
            from_logits = [from_logits] * len(self.output_shapes)
        parts = self.parts(m)
        prefix = None
        if self.prefix is not None:
            model, variables = self.prefix, list(self.prefix.variables)
            prefix = (_on_values(variables, lambda x: model(x, training=False)), variables)
        body = self._suffix_body(parts, m, tuple(bool(v) for v in from_logits))
        return prefix, (body, list(parts.suffix.variables)), len(parts.generators)

    def prefix_out(self, x):
        return x if self._prefix_fn is None else self._prefix_fn(x)

    def call_states(self, seed: int | None, m: int) -> np.ndarray:
        """`(generators, 2)` int64: the layer keys of one run for the suffix of `m` (fresh if `seed` is None)."""
        n = len(self.parts(m).generators)
        states = np.random.SeedSequence(seed).generate_state(2 * max(n, 1), np.uint32)[: 2 * n]
        return (states >> 1).astype(np.int64).reshape(n, 2)


#: Guards the caches of compiled functions and the tracing of their bodies.
_LOCK = threading.RLock()
#: Compiled prefixes and suffixes by structure: per architecture, not per model.
_SHARED: dict[tuple, Callable] = {}


def _shared_compiled(structure: tuple | None, make: Callable[[], Callable]) -> Callable:
    """The compiled `make()` for `structure`, made once (a new one each time for None)."""
    if structure is None:
        return _compile(make())
    with _LOCK:
        if structure not in _SHARED:
            _SHARED[structure] = _compile(make())
        return _SHARED[structure]


def _values(variables: list) -> list:
    """The current values of `variables`: the arguments of a shared compiled part."""
    return [keras.ops.convert_to_tensor(v) for v in variables]


def _on_values(variables: list, call: Callable) -> Callable:
    """`run(x, values)`: `call(x)` with `variables` read as `values` (`keras.StatelessScope`)."""

    def run(x, values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return call(x)

    return run


def _padded(a: np.ndarray, k: int) -> np.ndarray:
    """`a` `(rows, ...)` with its last row repeated up to `k` rows (a compiled call's traced shape)."""
    rows = a.shape[0]
    return a if rows >= k else np.concatenate([a, np.repeat(a[-1:], k - rows, axis=0)])

# Layers whose computation their class, config and weight shapes determine.
# A class from elsewhere (a user's custom layer may read attributes that its
# config leaves out) or a Lambda (its function) makes a suffix unshared.
_DESCRIBED_BY_CONFIG = ("keras.", "mcbridge.", "tensorflow.", "builtins")
# Attributes the engine sets on its sampling copies outside their config.
_ENGINE_ATTRIBUTES = ("live", "mask_layout", "feature_maps", "output_dtype", "replicas", "autocast")


def chain_structure(layers, spec) -> tuple | None:
    """`structure_key(layers)` with the chain's input `spec` (shape but the batch, dtype); None if unknown."""
    key = structure_key(layers)
    return None if key is None else (key, tuple(spec.shape[1:]), str(spec.dtype))


def structure_key(layers) -> tuple | None:
    """What `layers` compute as a chain, up to their weights' values; None if that cannot be told.

    Two chains with equal keys trace the same computation: the same classes
    (Keras' or mcbridge's own, all the way up), configs but the names, the
    engine's attributes, the sources of wrapping copies and weight shapes.
    """
    key = []
    for layer in layers:
        part = _layer_key(layer)
        if part is None:
            return None
        key.append(part)
    return tuple(key)


def _layer_key(layer) -> tuple | None:
    import json

    if isinstance(layer, (keras.Model, keras.layers.Lambda)) or not all(
        cls.__module__.startswith(_DESCRIBED_BY_CONFIG) for cls in type(layer).__mro__
    ):
        return None
    try:  # (a name changes nothing; nor does a seed: the engine keys every draw by the call's arguments)
        config = json.dumps(
            {k: v for k, v in layer.get_config().items() if k not in ("name", "seed")}, sort_keys=True, default=repr
        )
    except Exception:  # (a config that cannot be read: not compared)
        return None
    source = getattr(layer, "source", None)
    source_key = None if source is None else _layer_key(source)
    if source is not None and source_key is None:
        return None
    return (
        type(layer),
        config,
        tuple((a, repr(getattr(layer, a))) for a in _ENGINE_ATTRIBUTES if hasattr(layer, a)),
        source_key,
        tuple((tuple(v.shape), str(v.dtype)) for v in layer.variables),
        layer.dtype_policy.name,
    )
_SAMPLERS: "weakref.WeakKeyDictionary[keras.Model, dict[tuple[bool, str], Sampler]]" = weakref.WeakKeyDictionary()


def sampler_for(
    model: keras.Model,
    input_spec: Callable[[keras.Model], tuple],
    split: bool = True,
    precision: str = "float32",
) -> Sampler:
    """The cached `Sampler` of `model` (rebuilt when its layers changed).

    Args:
        input_spec: Returns `(input shape, dtype)` of `model` or raises.
        precision: One of `mcbridge._checks.PRECISIONS`: what the stochastic suffix computes in.
    """
    with _LOCK:
        samplers = _SAMPLERS.setdefault(model, {})
        sampler = samplers.get((split, precision))
        if sampler is None or sampler.signature != tuple(id(l) for l in iter_layers(model)):
            sampler = samplers[(split, precision)] = Sampler(model, split, input_spec, precision)
        return sampler


def deterministic_forward(model: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """`model`'s deterministic prediction of `x` (`(n, ...)` -> `(n, ...)` float32): its switch read as off.

    Every layer runs in inference mode and every mcbridge switchable layer
    as if its switch were off, without writing the switch (the switch
    variables are passed as False to a stateless call), so concurrent calls
    and the user's switch never meet. Compiled once per model structure and
    batch shape (the last batch is padded), like the MC prefix and suffix:
    the members of an ensemble share one trace.
    """
    from mcbridge.layers import is_switchable

    variables = list(model.variables)
    switches = {id(layer.mc_switch) for layer in iter_layers(model) if is_switchable(layer) and layer.mc_switch is not None}
    chain = graph.as_chain(model)
    structure = None if chain is None else chain_structure(chain, model.inputs[0])
    fn = _shared_compiled(
        None if structure is None else ("forward", structure),
        lambda: _on_values(variables, lambda xb: keras.ops.cast(model(xb, training=False), "float32")),
    )
    values = [keras.ops.zeros((), "bool") if id(v) in switches else keras.ops.convert_to_tensor(v) for v in variables]
    n = x.shape[0]
    k = max(1, min(batch_size, n))
    blocks = [
        keras.ops.convert_to_numpy(fn(_padded(x[i0 : i0 + k], k), values))[: min(k, n - i0)] for i0 in range(0, n, k)
    ]
    return np.concatenate(blocks) if blocks else np.zeros((0, *model.outputs[0].shape[1:]), np.float32)


def deterministic_outputs(model: keras.Model, xs: list, batch_size: int) -> list[np.ndarray]:
    """`deterministic_forward` of a model with any inputs and outputs.

    Args:
        xs: One array `(n, *input_shape)` per model input, in its input order.

    Returns:
        One float32 array `(n, *dims, classes)` per model output, in its output order.
    """
    if len(xs) == 1 and len(model.outputs) == 1:  # (a chain shares one trace per structure)
        return [deterministic_forward(model, xs[0], batch_size)]
    from mcbridge.layers import is_switchable

    variables = list(model.variables)
    switches = {id(layer.mc_switch) for layer in iter_layers(model) if is_switchable(layer) and layer.mc_switch is not None}

    def forward(xb):
        out = model(list(xb) if len(xs) > 1 else xb[0], training=False)
        return [keras.ops.cast(o, "float32") for o in (out if isinstance(out, (list, tuple)) else [out])]

    fn = _compile(_on_values(variables, forward))
    values = [keras.ops.zeros((), "bool") if id(v) in switches else keras.ops.convert_to_tensor(v) for v in variables]
    n = xs[0].shape[0]
    k = max(1, min(batch_size, n))
    blocks = [
        [keras.ops.convert_to_numpy(o)[: min(k, n - i0)] for o in fn([_padded(a[i0 : i0 + k], k) for a in xs], values)]
        for i0 in range(0, n, k)
    ]
    return [
        np.concatenate([b[o] for b in blocks]) if blocks else np.zeros((0, *t.shape[1:]), np.float32)
        for o, t in enumerate(model.outputs)
    ]


def sample(
    sampler: Sampler,
    x,
    n_samples: int,
    batch_size: int,
    memory_budget: int,
    seed: int | None,
    from_logits,
    *,
    tolerance: float | None = None,
    min_samples: int = 10,
    check: Callable[[np.ndarray], None] | None = None,
    progress: bool | None = None,
    keys: np.ndarray | None = None,
    class_margin: float | None = None,
    class_groups: Sequence[tuple[int, int, int]] = (),
) -> tuple[np.ndarray, np.ndarray | None]:
    """The samples of `x` as `(samples, n_used)`: `run_chunks` (`n_used` None), or `run_adaptive`.

    Adaptive with `tolerance` or with `class_margin` (and the `class_groups`
    of `_checks.class_groups`).

    Adaptive rounds draw `min_samples` replicas per call (chunked within
    `memory_budget`), up to `n_samples`.

    Raises:
        ValueError: `tolerance` for a model with DropConnect layers (one
            weight mask per sample index, shared by all inputs of a call).
    """
    n = (x[0] if isinstance(x, (list, tuple)) else x).shape[0]
    if tolerance is None and class_margin is None:
        chunks = chunk_plan(n, n_samples, batch_size, sampler.row_bytes, memory_budget)
        return run_chunks(sampler, chunks, x, seed, from_logits, check=check, progress=progress, keys=keys), None
    if sampler.layout.per_replica:
        raise ValueError(
            "The model has DropConnect layers, whose weight masks are drawn per sample index and shared "
            "by all inputs, so inputs cannot stop at different counts: use tolerance=None and class_margin=None."
        )
    plan = chunk_plan(n, min(min_samples, n_samples), batch_size, sampler.row_bytes, memory_budget)
    chunks = dataclasses.replace(plan, n_samples=n_samples)  # rounds of m samples, up to n_samples
    return run_adaptive(sampler, chunks, x, seed, from_logits, tolerance, min_samples, check=check,
                        progress=progress, keys=keys, class_margin=class_margin, class_groups=class_groups)


def _run_setup(sampler: Sampler, chunks: ChunkPlan, x, seed: int | None, from_logits, keys) -> tuple:
    """What a run needs before its first call: `(inputs as a list, keys, compiled suffix, layer keys)`.

    Also refreshes the bfloat16 copies' weights from the model's.
    """
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    keys = np.arange(chunks.n, dtype=np.int64) if keys is None else np.asarray(keys, dtype=np.int64)
    run = sampler.suffix_fn(chunks.m, from_logits)
    states = sampler.call_states(seed, chunks.m)
    sampler.sync_weights()
    return xs, keys, run, states


def run_chunks(
    sampler: Sampler,
    chunks: ChunkPlan,
    x: np.ndarray,
    seed: int | None,
    from_logits: bool,
    check: Callable[[np.ndarray], None] | None = None,
    progress: bool | None = None,
    keys: np.ndarray | None = None,
) -> np.ndarray:
    """All samples: `float32` array `(n, n_outputs, n_samples)` in Fortran order.

    `x`: the inputs, an array or (several inputs) a list of arrays.

    With a `seed`, input `i`'s samples depend only on the seed and `keys[i]`
    (masks identical whatever the chunking; values equal up to float32
    rounding, as batch shapes change the order of sums).

    Args:
        check: Called on every block `(draws, outputs, rows)` before it is kept.
        keys: `(n,)` int64 keys of the inputs; None: their row index `0..n-1`.
    """
    n, n_samples, k, m = chunks.n, chunks.n_samples, chunks.k, chunks.m
    xs, keys, run, states = _run_setup(sampler, chunks, x, seed, from_logits, keys)
    # (samples, outputs, n) in C order == (n, outputs, samples) in Fortran order.
    out = np.empty((n_samples, sampler.n_outputs, n), dtype=np.float32)
    bar = progress_bar(progress, n, work=n * n_samples)  # counts inputs
    for i0 in range(0, n, k):
        rows = min(k, n - i0)
        xb, kb = [_padded(a[i0 : i0 + rows], k) for a in xs], _padded(keys[i0 : i0 + rows], k)
        h = sampler.prefix_out(xb[0] if len(xb) == 1 else xb)
        for s0 in range(0, n_samples, m):
            draws = min(m, n_samples - s0)
            block = keras.ops.convert_to_numpy(run(h, kb, np.asarray(s0, dtype=np.int64), states))[:draws, :, :rows]
            if check is not None:
                check(block)
            out[s0 : s0 + draws, :, i0 : i0 + rows] = block
            if bar is not None:
                bar.update(i0 + rows * (s0 + draws) // n_samples)
    return out.transpose(2, 1, 0)


def run_adaptive(
    sampler: Sampler,
    chunks: ChunkPlan,
    x,
    seed: int | None,
    from_logits,
    tolerance: float | None,
    min_samples: int,
    check: Callable[[np.ndarray], None] | None = None,
    progress: bool | None = None,
    keys: np.ndarray | None = None,
    class_margin: float | None = None,
    class_groups: Sequence[tuple[int, int, int]] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive sampling: each input sampled until its MC standard error is at most `tolerance`.

    Or, with `class_margin` instead: until its predicted class is settled,
    at every position of every classification output (`class_groups`):
    the gap between the two largest mean probabilities exceeds
    `class_margin` times the sum of their standard errors (a bound on the
    gap's own standard error that needs no covariances).

    `k` slots each hold an input; every compiled call draws the next `m`
    samples of each slot's input (slot inputs may be at different sample
    indices: `suffix_fn`'s per-input `first_sample`). After each call an input
    stops once it has at least `min_samples` samples and the standard error
    of its mean (the largest over all its output entries, `std / sqrt(count)`)
    is at most `tolerance`, or at `chunks.n_samples`; its slot takes the next
    input. The deterministic prefix runs once per input (in batches of `k`, as
    inputs enter). With a seed, input `i`'s samples are the first `n_used[i]`
    of a fixed-size run: the same keyed masks, and the same bits for the same
    chunk shape `(k, m)` (each row's values do not depend on the other rows).

    Returns:
        `(samples, n_used)`: `float32` `(n, n_outputs, n_samples)` in Fortran
        order, NaN after each input's count, and the counts `int64` `(n,)`
        (multiples of `m`, or `n_samples`).
    """
    n, n_samples, k, m = chunks.n, chunks.n_samples, chunks.k, chunks.m
    xs, keys, run, states = _run_setup(sampler, chunks, x, seed, from_logits, keys)
    f = sampler.n_outputs
    out = np.full((n_samples, f, n), np.nan, dtype=np.float32)
    used = np.zeros(n, dtype=np.int64)
    sums, squares = np.zeros((n, f)), np.zeros((n, f))
    slots = np.full(k, -1, dtype=np.int64)  # the input in each slot (-1: free)
    held: list | None = None  # the prefix output of each slot, one array per prefix output
    ready: list[tuple[int, list]] = []  # inputs whose prefix is computed, waiting for a slot
    queued = 0  # inputs [queued, n) not yet through the prefix
    bar = progress_bar(progress, n, work=n * n_samples)
    done = 0
    while True:
        free = np.flatnonzero(slots < 0)
        while len(free) and (ready or queued < n):
            if not ready:  # the next k inputs through the prefix, in one call
                rows = min(k, n - queued)
                block_in = [_padded(a[queued : queued + rows], k) for a in xs]
                h = sampler.prefix_out(block_in[0] if len(block_in) == 1 else block_in)
                parts = [keras.ops.convert_to_numpy(t) for t in keras.tree.flatten(h)]
                ready = [(queued + r, [p[r] for p in parts]) for r in range(rows)]
                queued += rows
                if held is None:
                    held = [np.repeat(p[:1], k, axis=0) for p in parts]
            index, rows_of = ready.pop(0)
            slot = free[0]
            free = free[1:]
            slots[slot] = index
            for array, row in zip(held, rows_of):
                array[slot] = row
        busy = np.flatnonzero(slots >= 0)
        if not len(busy):
            break
        inputs = slots[busy]
        first = np.zeros(k, dtype=np.int64)
        first[busy] = used[inputs]
        slot_keys = np.zeros(k, dtype=np.int64)
        slot_keys[busy] = keys[inputs]
        h = held[0] if len(held) == 1 else list(held)
        block = keras.ops.convert_to_numpy(run(h, slot_keys, first, states))  # (m, f, k)
        if check is not None:
            check(block[:, :, busy])
        for slot, i in zip(busy, inputs):
            take = min(m, n_samples - used[i])
            values = block[:take, :, slot]
            out[used[i] : used[i] + take, :, i] = values
            sums[i] += values.sum(axis=0, dtype=np.float64)
            squares[i] += np.square(values, dtype=np.float64).sum(axis=0)
            used[i] += take
        count = used[inputs][:, None].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            variance = np.maximum(squares[inputs] - sums[inputs] ** 2 / count, 0) / (count - 1)
            error = np.sqrt(variance / count)
        if class_margin is None:
            settled = error.max(axis=1) <= tolerance
        else:
            settled = _classes_settled(sums[inputs] / count, error, class_margin, class_groups)
        stop = (used[inputs] >= n_samples) | ((used[inputs] >= min_samples) & settled)
        slots[busy[stop]] = -1
        done += int(stop.sum())
        if bar is not None:
            bar.update(done)
    return out.transpose(2, 1, 0), used


def _classes_settled(mean: np.ndarray, error: np.ndarray, margin: float, groups) -> np.ndarray:
    """`(b,)`: whether each row's top class beats its second by `margin` times their summed standard errors.

    `mean`, `error`: `(b, f)`; `groups`: `(start, positions, classes)`, entries
    `start + p + positions * c`; every position of every group must be settled.
    """
    settled = np.ones(mean.shape[0], dtype=bool)
    for start, positions, classes in groups:
        block = slice(start, start + positions * classes)
        m = mean[:, block].reshape(-1, classes, positions)
        e = error[:, block].reshape(-1, classes, positions)
        order = np.argsort(m, axis=1)
        first, second = order[:, -1:], order[:, -2:-1]
        gap = np.take_along_axis(m, first, 1) - np.take_along_axis(m, second, 1)
        bound = np.take_along_axis(e, first, 1) + np.take_along_axis(e, second, 1)
        settled &= (gap > margin * bound).all(axis=(1, 2))
    return settled
