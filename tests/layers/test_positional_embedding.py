import numpy as np
import pytest
from keras import ops

from tests.layers.roundtrip import assert_keras_round_trip
from tfzoo.layers import PositionalEmbedding


@pytest.mark.parametrize("kind", ["learned", "sinusoidal"])
def test_shape_and_start_index(kind):
    layer = PositionalEmbedding(sequence_length=16, kind=kind)
    x = np.zeros((2, 16, 8), "float32")
    full = ops.convert_to_numpy(layer(x))
    assert full.shape == (2, 16, 8)
    np.testing.assert_array_equal(full[0], full[1])
    part = ops.convert_to_numpy(layer(x[:, :3], start_index=5))
    np.testing.assert_array_equal(part, full[:, 5:8])


def test_sinusoidal_values():
    layer = PositionalEmbedding(sequence_length=8, kind="sinusoidal")
    table = ops.convert_to_numpy(layer(np.zeros((1, 8, 4), "float32")))[0]
    position = np.arange(8)[:, None]
    rate = np.exp(np.arange(0, 4, 2) * (-np.log(10000.0) / 4))
    np.testing.assert_allclose(table[:, 0::2], np.sin(position * rate), atol=1e-6)
    np.testing.assert_allclose(table[:, 1::2], np.cos(position * rate), atol=1e-6)
    assert not layer.trainable_weights


def test_unknown_kind():
    with pytest.raises(ValueError, match="learned"):
        PositionalEmbedding(8, kind="rotary")


@pytest.mark.parametrize("kind", ["learned", "sinusoidal"])
def test_keras_round_trip(tmp_path, kind):
    assert_keras_round_trip(
        PositionalEmbedding(sequence_length=12, kind=kind),
        np.random.default_rng(0).normal(size=(2, 12, 8)).astype("float32"),
        tmp_path,
    )
