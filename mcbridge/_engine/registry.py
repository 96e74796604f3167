"""Every layer that draws random numbers, and what MC prediction does with it.

One entry per layer class (matched with `isinstance` and the entry's
`when`, in order: subclasses first). An entry says

* how the layer samples under MC prediction (`samples`: the mask or noise
  and what it shares across rows, time steps or feature maps),
* how it is switched at runtime (`switchable`: the mcbridge class that
  carries the MC switch, see `mcbridge.layers`), and
* its `role`:

  - `"sampled"`: `mc_predict` draws fresh randomness for every MC replica;
  - `"inference"`: Keras' data-augmentation and additive-noise layers
    (`GaussianNoise`, `RandomFlip`, `RandomRotation`, ..., `MixUp`). They are
    training-time regularisers that Keras makes deterministic in inference,
    not part of the model's approximate posterior, so MC prediction runs them
    as `model.predict()` does (usually the identity) and computes them once;
    test-time augmentation is a different method;
  - `"unsupported"`: randomness mcbridge cannot sample (yet): refused.

`active(layer)` says whether the layer's randomness is in play at all (an
`LSTM` with `dropout=0` is deterministic). A layer that owns a
`keras.random.SeedGenerator` (itself or through its sublayers) and has no
entry is refused by `sampled_layers`: it cannot be sampled, and treating it as
deterministic would silently change what the user's model computes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import keras

from mcbridge import layers as _layers
from mcbridge._engine import sampling
from mcbridge._engine.sampling import rnn_cells


@dataclasses.dataclass(frozen=True)
class StochasticLayer:
    """How one class of random layers is handled under MC prediction."""

    #: The Keras (or mcbridge) class matched with `isinstance`.
    cls: type
    #: `"sampled"`, `"inference"` or `"unsupported"` (see the module docstring).
    role: str
    #: How it samples under MC (or why it does not), for docs and messages.
    samples: str
    #: The mcbridge class with the runtime MC switch, or None.
    switchable: type | None = None
    #: The TensorFlow sampling copy draws packed-bit masks
    #: (`sampling.BitMaskSampling`): crop and max-pool fusion apply to it.
    bit_mask: bool = False
    #: Whether a given layer's randomness is in play; None: always.
    active: Callable[[keras.layers.Layer], bool] | None = None
    #: One mask entry per feature map (row and channel), shared over the
    #: spatial axes (spatial dropout).
    feature_maps: bool = False
    #: The sampling copy draws one mask per MC replica (keyed by the sample
    #: index, so shared by all inputs), so it is built for a given replica count `m`.
    per_replica: bool = False
    #: Which layers of `cls` the entry is for; None: all (a later entry takes the others).
    when: Callable[[keras.layers.Layer], bool] | None = None

    def matches(self, layer) -> bool:
        return isinstance(layer, self.cls) and (self.when is None or self.when(layer))


def _rates(*names: str) -> Callable[[keras.layers.Layer], bool]:
    def active(layer) -> bool:
        owner = getattr(layer, "cell", layer)  # RNN layers keep their rates on the cell
        return any(float(getattr(owner, name, 0) or 0) > 0 for name in names)

    return active


def _dropout_cell(cell) -> bool:
    """Whether `cell` draws its dropout masks as Keras' `DropoutRNNCell` does (`SamplingRecurrent` keys them)."""
    return callable(getattr(cell, "get_dropout_mask", None)) and callable(getattr(cell, "_create_dropout_mask", None))


def _keras_classes(names: Iterable[str]) -> list[type]:
    return [getattr(keras.layers, n) for n in names if isinstance(getattr(keras.layers, n, None), type)]


_DROPOUT = "an independent Bernoulli mask per element (per `noise_shape`), scaled by 1 / (1 - rate)"
_RECURRENT = (
    "variational recurrent dropout: one Bernoulli mask per sequence on the inputs (`dropout`) and one "
    "on the recurrent state (`recurrent_dropout`), the same at every time step (Gal & Ghahramani, 2016)"
)
_SPATIAL = "one Bernoulli mask per feature map (shared over all spatial positions), scaled by 1 / (1 - rate)"


def _dropout(name: str, samples: str, **kwargs) -> StochasticLayer:
    """A Keras dropout class, sampled, switched by its mcbridge subclass (`SWITCHABLE_FOR`)."""
    cls = getattr(keras.layers, name)
    return StochasticLayer(cls, "sampled", samples, _layers.SWITCHABLE_FOR[cls], **kwargs)


REGISTRY: tuple[StochasticLayer, ...] = (
    # Subclasses before their bases: SpatialDropout* are Dropout subclasses.
    _dropout("SpatialDropout1D", _SPATIAL, bit_mask=True, feature_maps=True),
    _dropout("SpatialDropout2D", _SPATIAL, bit_mask=True, feature_maps=True),
    _dropout("SpatialDropout3D", _SPATIAL, bit_mask=True, feature_maps=True),
    _dropout("GaussianDropout", "multiplicative Gaussian noise N(1, rate / (1 - rate)) per element"),
    _dropout("AlphaDropout", "alpha dropout per element (keeps a self-normalising mean and variance)"),
    _dropout("Dropout", _DROPOUT, bit_mask=True),
    *(
        StochasticLayer(cls, "sampled", "DropConnect: one Bernoulli mask over the kernel's weights per MC "
                        "sample index (shared by all inputs), scaled by 1 / (1 - rate)",
                        cls, per_replica=True)
        for cls in (_layers.DropConnectDense, _layers.DropConnectConv2D)
    ),  # fmt: skip
    *(
        StochasticLayer(
            cls, "sampled", _RECURRENT, _layers.SWITCHABLE_FOR[cls],
            active=_rates("dropout", "recurrent_dropout"),
        )
        for cls in (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)
    ),
    *(
        StochasticLayer(cls, "sampled", _RECURRENT + " (convolutional: per sequence over every position)",
                        active=_rates("dropout", "recurrent_dropout"))
        for cls in _keras_classes(["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"])
    ),  # fmt: skip
    StochasticLayer(
        keras.layers.Bidirectional, "sampled",
        _RECURRENT + ", in each direction (a mask of its own per direction)",
        active=lambda layer: _rates("dropout", "recurrent_dropout")(layer.forward_layer),
    ),
    # A generic RNN: sampled when all its cells are Keras' dropout cells
    # (LSTMCell, GRUCell, SimpleRNNCell, also stacked), refused otherwise.
    StochasticLayer(
        keras.layers.RNN, "sampled", _RECURRENT + "; stacked cells each their own masks",
        active=lambda layer: any(_rates("dropout", "recurrent_dropout")(c) for c in rnn_cells(layer)),
        when=lambda layer: all(_dropout_cell(c) for c in rnn_cells(layer)),
    ),
    StochasticLayer(
        keras.layers.RNN, "unsupported", "a recurrent cell that is not one of Keras' dropout cells",
        active=lambda layer: any(owns_randomness(c) for c in rnn_cells(layer)),
    ),
    *(
        StochasticLayer(cls, "sampled", "dropout on the attention weights: an independent Bernoulli mask per "
                        "weight (every head, query and key position), scaled by 1 / (1 - rate)",
                        active=_rates("dropout", "_dropout"))
        for cls in sampling.ATTENTION
    ),  # fmt: skip
    # Cells used as layers on their own (outside an RNN): not sampled.
    *(
        StochasticLayer(cls, "unsupported", "dropout on inputs and recurrent state outside an RNN layer",
                        active=_rates("dropout", "recurrent_dropout"))
        for cls in _keras_classes(["LSTMCell", "GRUCell", "SimpleRNNCell"])
    ),  # fmt: skip
    *(
        StochasticLayer(cls, "inference", "training-time noise or augmentation: runs as in model.predict()")
        for cls in _keras_classes(
            ["GaussianNoise", "AugMix", "CutMix", "MixUp", "RandAugment", "Solarization"]
            + [n for n in dir(keras.layers) if n.startswith("Random")]
        )
    ),
)


def entry_for(layer) -> StochasticLayer | None:
    """The registry entry that matches `layer`, or None."""
    return next((e for e in REGISTRY if e.matches(layer)), None)


def is_sampled(layer) -> bool:
    """True if `mc_predict` draws fresh randomness for `layer` in every MC replica."""
    entry = entry_for(layer)
    return entry is not None and entry.role == "sampled" and (entry.active is None or entry.active(layer))


def is_bit_mask(layer) -> bool:
    """True if `layer`'s TensorFlow sampling copy draws packed-bit masks."""
    entry = entry_for(layer)
    return entry is not None and entry.bit_mask and keras.backend.backend() == "tensorflow"


def owns_randomness(layer, _depth: int = 0) -> bool:
    """True if `layer` (or a sublayer of it) holds a `keras.random.SeedGenerator`."""
    for value in vars(layer).values():
        values = value if isinstance(value, (list, tuple)) else (value,)
        for v in values:
            if isinstance(v, keras.random.SeedGenerator):
                return True
            if (
                isinstance(v, keras.layers.Layer)
                and not isinstance(v, keras.Model)
                and _depth < 4
                and owns_randomness(v, _depth + 1)
            ):
                return True
    return False


def _supported_names() -> str:
    names = [e.cls.__name__ for e in REGISTRY if e.role == "sampled"]
    return ", ".join(dict.fromkeys(names))


def sampled_layers(layers: Iterable[keras.layers.Layer]) -> list[keras.layers.Layer]:
    """The layers among `layers` that MC prediction samples.

    Raises:
        ValueError: a layer draws random numbers that mcbridge cannot sample
            (an unsupported or an unregistered random layer), naming it.
    """
    out = []
    for layer in layers:
        if isinstance(layer, keras.Model):
            continue  # its layers come on their own (iter_layers)
        entry = entry_for(layer)
        if entry is None:
            if owns_randomness(layer):
                raise ValueError(
                    f"Layer {layer.name!r} ({type(layer).__name__}) draws random numbers "
                    "(it holds a keras.random.SeedGenerator), but mcbridge does not know "
                    "how it samples under MC prediction, so it can neither sample it nor "
                    "treat it as deterministic. Use a layer mcbridge samples instead "
                    f"({_supported_names()}), or, if it should not be random at "
                    "prediction time, predict with a model built without it."
                )
            continue
        if entry.active is not None and not entry.active(layer):
            continue
        if entry.role == "unsupported":
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) has {entry.samples}, "
                "which mcbridge does not sample under MC prediction. Set its dropout "
                "rates to 0 for prediction, or use a layer mcbridge samples "
                f"({_supported_names()})."
            )
        if entry.role == "sampled":
            out.append(layer)
    return out


def seed_generators(layer) -> list:
    """The `keras.random.SeedGenerator`s a sampling copy draws from, in a fixed order."""
    return [v for v in vars(layer).values() if isinstance(v, keras.random.SeedGenerator)]


def is_per_replica(layer) -> bool:
    """True if `layer`'s sampling copy is built for a given replica count."""
    entry = entry_for(layer)
    return entry is not None and entry.per_replica


def sampling_copy(
    layer, live: tuple | None = None, mask_layout: str = "elements", replicas: int | None = None
) -> keras.layers.Layer:
    """An always-sampling copy of the sampled layer `layer`, with fresh random state.

    Args:
        layer: A layer for which `is_sampled(layer)`.
        live: For bit-mask copies: the leading spatial region of the input
            that the model's output depends on (None: all of it).
        mask_layout: For bit-mask copies: `"elements"`, `"windows"` (mask
            drawn window by window for the 2x2 max-pool after it) or
            `"pooled"` (the same, and the copy pools too; see
            `sampling.BitMaskSampling`).
        replicas: For per-replica copies (DropConnect): the MC replicas `m`
            of one compiled call, whose rows come replica-major (`r * k + i`).
            None: one mask for the whole call.
    """
    entry = entry_for(layer)
    if entry.per_replica:
        return sampling.ReplicaDropConnect(layer, replicas)
    if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
        return sampling.SamplingRecurrent(layer)
    if isinstance(layer, sampling.ATTENTION):
        return sampling.SamplingAttention(layer)
    config = layer.get_config()
    config.pop("mc_enabled", None)
    noise_shape = config.get("noise_shape")
    if noise_shape is not None and noise_shape[0] == 1:
        # A mask shared across the batch would be shared across the MC
        # replicas of an input too: draw one mask per row instead (the same
        # distribution for each input).
        config["noise_shape"] = (None, *noise_shape[1:])
    if is_bit_mask(layer):
        return sampling.bit_mask_class(entry.cls).from_config(
            {**config, "live": live, "mask_layout": mask_layout, "feature_maps": entry.feature_maps}
        )
    if entry.cls in (keras.layers.GaussianDropout, keras.layers.AlphaDropout) and (
        keras.backend.backend() == "tensorflow"
    ):
        return sampling.keyed_noise_class(entry.switchable).from_config({**config, "mc_enabled": True})
    return entry.switchable.from_config({**config, "mc_enabled": True})
