import keras
import numpy as np
import pytest
from keras import ops

from tfzoo.layers import CrossAttention, TransformerDecoderBlock

WIDTH, HEADS = 32, 4


def normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_padded_source_positions_are_never_read():
    attention = CrossAttention(HEADS)
    target, source = normal(2, 5, WIDTH), normal(2, 7, WIDTH, seed=1)
    mask = np.ones((2, 7), "int32")
    mask[1, 4:] = 0
    changed = source.copy()
    changed[1, 4:] = normal(3, WIDTH, seed=2)
    out = ops.convert_to_numpy(attention(target, source, mask))
    np.testing.assert_array_equal(
        ops.convert_to_numpy(attention(target, changed, mask)), out)
    # ... while a real source position does matter.
    changed[1, 0] = changed[1, 1]
    assert not np.allclose(
        ops.convert_to_numpy(attention(target, changed, mask))[1], out[1])


def test_key_value_computed_once_equals_the_full_call():
    attention = CrossAttention(HEADS)
    target, source = normal(2, 5, WIDTH), normal(2, 7, WIDTH, seed=1)
    key_value = attention.key_value(source)
    assert tuple(key_value.shape) == (2, 2, 7, HEADS, WIDTH // HEADS)
    np.testing.assert_allclose(
        ops.convert_to_numpy(attention(target, key_value=key_value)),
        ops.convert_to_numpy(attention(target, source)), atol=1e-6)


def test_attention_weights_are_rows_of_probabilities_over_real_tokens():
    attention = CrossAttention(HEADS)
    mask = np.array([[1, 1, 1, 0]], "int32")
    weights = ops.convert_to_numpy(attention.attention_weights(
        normal(1, 3, WIDTH), normal(1, 4, WIDTH), mask))
    assert weights.shape == (1, HEADS, 3, 4)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert np.all(weights[..., 3] < 1e-6)


def test_errors():
    with pytest.raises(ValueError, match="multiple of num_heads"):
        CrossAttention(5)(normal(1, 2, WIDTH), normal(1, 3, WIDTH))
    attention = CrossAttention(HEADS)
    attention(normal(1, 2, WIDTH), normal(1, 3, WIDTH))
    with pytest.raises(ValueError, match="encoder_outputs or key_value"):
        attention(normal(1, 2, WIDTH))


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_block_is_causal_over_the_target(norm_first):
    block = TransformerDecoderBlock(HEADS, 64, norm_first=norm_first)
    target, source = normal(2, 6, WIDTH), normal(2, 4, WIDTH, seed=1)
    changed = target.copy()
    changed[:, 3:] = normal(2, 3, WIDTH, seed=3)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(block(changed, source))[:, :3],
        ops.convert_to_numpy(block(target, source))[:, :3])


def test_decoder_block_reads_the_source():
    block = TransformerDecoderBlock(HEADS, 64)
    target, source = normal(1, 3, WIDTH), normal(1, 4, WIDTH, seed=1)
    assert not np.allclose(
        ops.convert_to_numpy(block(target, source)),
        ops.convert_to_numpy(block(target, source[:, ::-1] * 2)))


def test_post_layer_norm_decoder_block_output_is_normalized():
    block = TransformerDecoderBlock(HEADS, 64, norm_first=False)
    y = ops.convert_to_numpy(block(normal(2, 3, WIDTH),
                                   normal(2, 4, WIDTH, seed=1)))
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-4)


def test_decoder_block_cached_steps_equal_the_full_call():
    block = TransformerDecoderBlock(HEADS, 64)
    target, source = normal(2, 5, WIDTH), normal(2, 4, WIDTH, seed=1)
    full = ops.convert_to_numpy(block(target, source))
    cache = ops.zeros((2, 2, 8, HEADS, WIDTH // HEADS))
    key_value = block.cross_attention.key_value(source)
    for i in range(5):
        out, cache = block(target[:, i:i + 1], cache=cache, cache_index=i,
                           cross_key_value=key_value)
        np.testing.assert_allclose(ops.convert_to_numpy(out)[:, 0],
                                   full[:, i], atol=1e-5)


def test_decoder_block_config_round_trip(tmp_path):
    block = TransformerDecoderBlock(HEADS, 64, dropout=0.1, norm_first=False,
                                    activation="gelu")
    config = block.get_config()
    assert "causal" not in config and config["norm_first"] is False
    again = TransformerDecoderBlock.from_config(config)
    assert again.get_config() == config
    # Inside a model with two inputs, saved and loaded as .keras.
    target = keras.Input((None, WIDTH))
    source = keras.Input((None, WIDTH))
    model = keras.Model([target, source], block(target, source))
    path = str(tmp_path / "m.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    inputs = [normal(1, 3, WIDTH), normal(1, 4, WIDTH, seed=1)]
    np.testing.assert_array_equal(ops.convert_to_numpy(restored(inputs)),
                                  ops.convert_to_numpy(model(inputs)))


def test_cross_attention_config_round_trip():
    attention = CrossAttention(HEADS, dropout=0.2)
    again = CrossAttention.from_config(attention.get_config())
    assert again.get_config() == attention.get_config()
