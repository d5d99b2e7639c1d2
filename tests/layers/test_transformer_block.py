import numpy as np
import pytest
from keras import ops

from tests.layers.roundtrip import assert_keras_round_trip
from tfzoo.layers import TransformerBlock

WIDTH, HEADS, LENGTH = 32, 4, 9


def random_inputs(batch=2, length=LENGTH):
    rng = np.random.default_rng(1)
    return rng.normal(size=(batch, length, WIDTH)).astype("float32")


@pytest.mark.parametrize("norm_first", [True, False])
def test_causal_block_is_causal(norm_first):
    block = TransformerBlock(HEADS, 64, norm_first=norm_first)
    x = random_inputs()
    changed = x.copy()
    changed[:, 5:] = x[:, :4]
    np.testing.assert_array_equal(
        ops.convert_to_numpy(block(changed))[:, :5],
        ops.convert_to_numpy(block(x))[:, :5],
    )


def test_bidirectional_block_sees_everything():
    block = TransformerBlock(HEADS, 64, causal=False)
    x = random_inputs()
    changed = x.copy()
    changed[:, -1] = x[:, 0]  # not a constant shift: LayerNorm removes those
    assert not np.allclose(ops.convert_to_numpy(block(changed))[:, 0],
                           ops.convert_to_numpy(block(x))[:, 0])


def test_post_layer_norm_output_is_normalized():
    block = TransformerBlock(HEADS, 64, norm_first=False)
    y = ops.convert_to_numpy(block(random_inputs()))
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-4)
    np.testing.assert_allclose(y.std(-1), 1, atol=1e-2)


def test_padding_mask_reaches_attention():
    block = TransformerBlock(HEADS, 64, causal=False)
    x = random_inputs()
    mask = np.ones((2, LENGTH), bool)
    mask[:, 4:] = False
    changed = x.copy()
    changed[:, 4:] = 7.0
    np.testing.assert_allclose(
        ops.convert_to_numpy(block(changed, padding_mask=mask))[:, :4],
        ops.convert_to_numpy(block(x, padding_mask=mask))[:, :4],
        atol=1e-5,
    )


@pytest.mark.parametrize("rotary", [False, True])
def test_cache_matches_full(rotary):
    block = TransformerBlock(HEADS, 64, rotary=rotary)
    x = random_inputs()
    full = ops.convert_to_numpy(block(x))
    cache = np.zeros((2, 2, LENGTH, HEADS, WIDTH // HEADS), "float32")
    y, cache = block(x[:, :3], cache=cache, cache_index=0)
    pieces = [ops.convert_to_numpy(y)]
    for t in range(3, LENGTH):
        y, cache = block(x[:, t : t + 1], cache=cache, cache_index=t)
        pieces.append(ops.convert_to_numpy(y))
    np.testing.assert_allclose(np.concatenate(pieces, 1), full, atol=1e-5)


@pytest.mark.parametrize("causal,norm_first,rotary", [
    (True, True, False), (False, False, False), (True, True, True)])
def test_keras_round_trip(tmp_path, causal, norm_first, rotary):
    assert_keras_round_trip(
        TransformerBlock(HEADS, 64, dropout=0.1, causal=causal,
                         norm_first=norm_first, rotary=rotary,
                         layer_norm_epsilon=1e-12),
        random_inputs(), tmp_path,
    )
