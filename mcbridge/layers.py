"""Dropout layers whose Monte Carlo mode can be switched on and off at runtime.

Each `MC*` class subclasses the Keras layer of the same name and overrides only
`call`; `DropConnectDense` and `DropConnectConv2D` are `Dense` and `Conv2D`
that drop weights instead of activations. In training (`fit`, `train_on_batch`, `model(x, training=True)`) they
drop exactly like the Keras layer. In inference they drop only while their MC
switch is on. The switch is a non-trainable boolean variable read inside the
graph, so toggling it takes effect in `model.predict()` even after Keras has
compiled and cached its predict function, and no other layer (BatchNormalization
included) leaves inference mode.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = [
    "MCDropout",
    "MCSpatialDropout1D",
    "MCSpatialDropout2D",
    "MCSpatialDropout3D",
    "MCGaussianDropout",
    "MCAlphaDropout",
    "DropConnectDense",
    "DropConnectConv2D",
    "MCLSTM",
    "MCGRU",
    "MCSimpleRNN",
    "SWITCHABLE_FOR",
    "is_dropout_layer",
    "is_switchable",
    "keras_dropout_class",
    "switchable_class",
]


class _MCSwitch:
    """Mixin: adds the runtime MC switch to a Keras dropout layer."""

    def __init__(self, *args, mc_enabled: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self._mc_initial = bool(mc_enabled)
        self.mc_switch = None

    def build(self, input_shape):
        self.mc_switch = self.add_weight(
            shape=(),
            dtype="bool",
            initializer=keras.initializers.Constant(self._mc_initial),
            trainable=False,
            name="mc_switch",
        )
        super().build(input_shape)

    @property
    def mc_enabled(self) -> bool:
        """Whether this layer samples dropout masks in inference."""
        if self.mc_switch is None:
            return self._mc_initial
        return bool(ops.convert_to_numpy(self.mc_switch.value))

    @mc_enabled.setter
    def mc_enabled(self, enabled: bool) -> None:
        self._mc_initial = bool(enabled)
        if self.mc_switch is not None:
            self.mc_switch.assign(bool(enabled))

    def call(self, inputs, training=False):
        drop = super().call
        if training:
            return drop(inputs, training=True)
        if self.mc_switch is None:  # called before build: nothing to read yet
            return drop(inputs, training=self._mc_initial)
        return ops.cond(
            self.mc_switch.value,
            lambda: drop(inputs, training=True),
            lambda: drop(inputs, training=False),
        )

    def get_config(self):
        return {**super().get_config(), "mc_enabled": self.mc_enabled}


_PACKAGE = "mcbridge"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MCDropout(_MCSwitch, keras.layers.Dropout):
    """`keras.layers.Dropout` with a runtime MC switch (`mc_enabled`)."""


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MCSpatialDropout1D(_MCSwitch, keras.layers.SpatialDropout1D):
    """`keras.layers.SpatialDropout1D` with a runtime MC switch."""


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MCSpatialDropout2D(_MCSwitch, keras.layers.SpatialDropout2D):
    """`keras.layers.SpatialDropout2D` with a runtime MC switch."""


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MCSpatialDropout3D(_MCSwitch, keras.layers.SpatialDropout3D):
    """`keras.layers.SpatialDropout3D` with a runtime MC switch."""


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MCGaussianDropout(_MCSwitch, keras.layers.GaussianDropout):
    """`keras.layers.GaussianDropout` with a runtime MC switch."""


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MCAlphaDropout(_MCSwitch, keras.layers.AlphaDropout):
    """`keras.layers.AlphaDropout` with a runtime MC switch."""


class _DropConnect:
    """Mixin for `Dense` / `Conv2D`: in training (and MC mode) the kernel's weights are dropped.

    Each call draws one Bernoulli mask over the kernel (shared by the rows of
    the batch), keeps each weight with probability `1 - rate` and scales the
    kept ones by `1 / (1 - rate)`, so the expected output is that of the
    layer without dropout. The bias is not dropped.
    """

    def __init__(self, *args, rate: float = 0.5, seed: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(
                "Invalid value received for argument `rate`. Expected a float "
                f"in [0, 1). Received: rate={rate!r}"
            )
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def dropped_kernel(self, replicas: int | None = None):
        """The kernel with weights dropped (scaled); `(replicas, *kernel.shape)` if `replicas`."""
        kernel = self.kernel
        if replicas is not None:
            kernel = ops.broadcast_to(kernel[None], (replicas, *kernel.shape))
        if self.rate == 0:
            return kernel
        return keras.random.dropout(kernel, self.rate, seed=self.seed_generator)

    def call(self, inputs, training=False):
        return self.apply_kernel(inputs, self.dropped_kernel() if training else self.kernel)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

    # Keras' Dense saves only its kernel and bias: save every weight
    # (the MC switch included), in order.
    def save_own_variables(self, store):
        for i, weight in enumerate(self.weights):
            store[str(i)] = weight

    def load_own_variables(self, store):
        if len(store.keys()) != len(self.weights):
            raise ValueError(
                f"Layer {self.name!r} expected {len(self.weights)} variables, but "
                f"received {len(store.keys())} variables during loading."
            )
        for i, weight in enumerate(self.weights):
            weight.assign(store[str(i)])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DropConnectDense(_MCSwitch, _DropConnect, keras.layers.Dense):
    """`keras.layers.Dense` with DropConnect (`rate` of its weights dropped) and an MC switch.

    Args:
        units: As for `Dense`.
        rate: Fraction of the kernel's weights dropped, in `[0, 1)`.
        seed: Seed of the layer's own random state.
        mc_enabled: Drop weights in inference too (the runtime MC switch).
        **kwargs: Any other `Dense` argument.

    Input shape `(batch, ..., in)`; output `(batch, ..., units)`. With MC off
    and in inference it is exactly `Dense`.
    """

    def apply_kernel(self, inputs, kernel):
        x = ops.matmul(inputs, kernel)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        return x if self.activation is None else self.activation(x)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DropConnectConv2D(_MCSwitch, _DropConnect, keras.layers.Conv2D):
    """`keras.layers.Conv2D` with DropConnect (`rate` of its weights dropped) and an MC switch.

    Args:
        filters, kernel_size: As for `Conv2D`.
        rate: Fraction of the kernel's weights dropped, in `[0, 1)`.
        seed: Seed of the layer's own random state.
        mc_enabled: Drop weights in inference too (the runtime MC switch).
        **kwargs: Any other `Conv2D` argument.

    Shapes as `Conv2D`. With MC off and in inference it is exactly `Conv2D`.
    """

    def apply_kernel(self, inputs, kernel):
        return self.add_bias_and_activate(self.convolution_op(inputs, kernel))

    def add_bias_and_activate(self, outputs):
        """The bias and activation of `Conv2D`, on convolved `outputs`."""
        if self.use_bias:
            if self.data_format == "channels_last":
                shape = (1,) * (self.rank + 1) + (self.filters,)
            else:
                shape = (1, self.filters) + (1,) * self.rank
            outputs = ops.add(outputs, ops.reshape(self.bias, shape))
        return outputs if self.activation is None else self.activation(outputs)


class _MCRecurrentSwitch(_MCSwitch):
    """The MC switch for a Keras recurrent layer's `dropout` / `recurrent_dropout`.

    With the switch on, inference draws Keras' variational masks: one mask
    per sequence on the inputs and one on the recurrent state, the same at
    every time step (Gal & Ghahramani, 2016).
    """

    def call(self, sequences, initial_state=None, mask=None, training=False):
        rnn_call = super(_MCSwitch, self).call  # the Keras layer's, past _MCSwitch.call

        def run(drop):
            return rnn_call(sequences, initial_state=initial_state, mask=mask, training=drop)

        if training:
            return run(True)
        if self.mc_switch is None:
            return run(self._mc_initial)
        return ops.cond(self.mc_switch.value, lambda: run(True), lambda: run(False))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MCLSTM(_MCRecurrentSwitch, keras.layers.LSTM):
    """`keras.layers.LSTM` whose `dropout` / `recurrent_dropout` can be on in inference."""


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MCGRU(_MCRecurrentSwitch, keras.layers.GRU):
    """`keras.layers.GRU` whose `dropout` / `recurrent_dropout` can be on in inference."""


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MCSimpleRNN(_MCRecurrentSwitch, keras.layers.SimpleRNN):
    """`keras.layers.SimpleRNN` whose `dropout` / `recurrent_dropout` can be on in inference."""


# Keras dropout class -> its switchable counterpart. Order matters for
# isinstance look-ups: subclasses before their bases.
SWITCHABLE_FOR: dict[type, type] = {
    keras.layers.SpatialDropout1D: MCSpatialDropout1D,
    keras.layers.SpatialDropout2D: MCSpatialDropout2D,
    keras.layers.SpatialDropout3D: MCSpatialDropout3D,
    keras.layers.GaussianDropout: MCGaussianDropout,
    keras.layers.AlphaDropout: MCAlphaDropout,
    keras.layers.Dropout: MCDropout,
    keras.layers.LSTM: MCLSTM,
    keras.layers.GRU: MCGRU,
    keras.layers.SimpleRNN: MCSimpleRNN,
}

def is_switchable(layer) -> bool:
    """True for the mcbridge MC-switchable layers."""
    return isinstance(layer, _MCSwitch)


def _switchable_pair(layer) -> tuple[type, type] | None:
    """`(Keras class, its switchable class)` of a dropout layer whose randomness is in play, or None.

    The engine's registry of stochastic layers (`mcbridge._engine.registry`)
    builds on this rule; it is kept here so that the layers depend on nothing
    of the engine.
    """
    for cls in (DropConnectDense, DropConnectConv2D):  # (Dense / Conv2D subclasses: switchable themselves)
        if isinstance(layer, cls):
            return cls, cls
    for base, switchable in SWITCHABLE_FOR.items():
        if isinstance(layer, base):
            if issubclass(base, keras.layers.RNN) and not _recurrent_rates(layer):
                return None  # no dropout on the inputs nor the state: deterministic
            return base, switchable
    return None


def _recurrent_rates(layer) -> bool:
    cell = getattr(layer, "cell", layer)
    return any(float(getattr(cell, name, 0) or 0) > 0 for name in ("dropout", "recurrent_dropout"))


def is_dropout_layer(layer) -> bool:
    """True for any dropout layer mcbridge can make switchable (Keras' or ours)."""
    return _switchable_pair(layer) is not None


def keras_dropout_class(layer) -> type | None:
    """The Keras dropout class of `layer` (a key of `SWITCHABLE_FOR`, or a DropConnect class), or None."""
    pair = _switchable_pair(layer)
    return None if pair is None else pair[0]


def switchable_class(layer) -> type:
    """The mcbridge class that makes `layer`'s Keras dropout class switchable.

    Raises:
        TypeError: `layer` is not a supported dropout layer.
    """
    pair = _switchable_pair(layer)
    if pair is not None:
        return pair[1]
    raise TypeError(
        f"Layer {layer.name!r} ({type(layer).__name__}) is not a supported "
        f"dropout layer. Supported: {', '.join(b.__name__ for b in SWITCHABLE_FOR)} "
        "(recurrent layers with dropout or recurrent_dropout > 0), and the "
        "DropConnect layers."
    )
