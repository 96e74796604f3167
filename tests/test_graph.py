import keras
import numpy as np
import pytest

import mcbridge
from mcbridge._engine.graph import cropping_layer, crops_pointwise, needed_input_extents


def _view_needs(model):
    """The predictor's reading of a Sequential model: its bit-mask dropouts pass regions through."""
    return needed_input_extents(model.layers, passes=crops_pointwise)


def _needs(*layers, input_shape):
    return _view_needs(keras.Sequential([keras.Input(input_shape), *layers]))


def test_seed_cnn_reads_only_the_leading_region():
    # 28 -> conv3 -> 26 -> pool2 -> 13 -> conv3 -> 11 -> pool2 -> 5: the last pool reads 10 of 11 rows.
    model = mcbridge.build_cnn(seed=0)
    needs = _view_needs(model)
    assert needs[:7] == [(26, 26), (24, 24), (24, 24), (12, 12), (10, 10), (10, 10), None]
    assert needs[7:] == [None] * (len(needs) - 7)


def test_same_padding_needs_everything():
    model = mcbridge.build_cnn(padding="same", seed=0)
    assert needed_input_extents(model.layers) == [None] * len(model.layers)


def test_strides_dilation_and_rank():
    # conv k3 stride 2 on 10 -> 4 outputs read 9 rows; width 11 -> 5 outputs read all 11.
    assert _needs(keras.layers.Conv2D(2, 3, strides=2), keras.layers.Flatten(),
                  input_shape=(10, 11, 1))[0] == (9, 11)  # fmt: skip
    # dilated conv1d: 11 -> 7; pool 2 reads 6 of 7, so the conv reads 5 + 2 * 2 + 1 = 10 of 11.
    needs = _needs(keras.layers.Conv1D(2, 3, dilation_rate=2), keras.layers.MaxPooling1D(2),
                   keras.layers.Flatten(), input_shape=(11, 1))  # fmt: skip
    assert needs[:2] == [(10,), (6,)]
    needs = _needs(keras.layers.Conv3D(2, 2), keras.layers.Dropout(0.5), keras.layers.AveragePooling3D(2),
                   keras.layers.Flatten(), input_shape=(6, 5, 4, 1))  # fmt: skip
    assert needs[:3] == [(5, 5, 3), (4, 4, 2), (4, 4, 2)]


@pytest.mark.parametrize(
    "barrier",
    [
        keras.layers.Permute((2, 1, 3)),
        keras.layers.Conv2D(2, 1, padding="same"),
        keras.layers.Dropout(0.5, noise_shape=(None, 7, 7, 2)),
        keras.layers.MaxPooling2D(3, strides=1, padding="same"),
    ],
    ids=["unknown-layer", "same-conv", "shaped-noise", "same-pool"],
)
def test_layers_that_may_read_everything_stop_the_crop(barrier):
    needs = _needs(keras.layers.Conv2D(2, 2), barrier, keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                   input_shape=(8, 8, 1))  # fmt: skip
    # The last pool reads 6 of 7; the layer before it must not pass that on.
    assert needs[2] == (6, 6)
    assert needs[0] is None
    if isinstance(barrier, keras.layers.Dropout):
        assert needs[1] is None


def test_cropping_layer_keeps_the_leading_region():
    x = np.arange(2 * 7 * 6 * 3, dtype="float32").reshape(2, 7, 6, 3)
    out = keras.ops.convert_to_numpy(cropping_layer((7, 6), (5, 4))(x))
    np.testing.assert_array_equal(out, x[:, :5, :4])
    x1 = x.reshape(2, 42, 3)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(cropping_layer((42,), (40,))(x1)), x1[:, :40])
