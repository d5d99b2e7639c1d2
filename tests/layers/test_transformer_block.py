import keras
import numpy as np
import pytest
from keras import ops

from tests.layers.roundtrip import assert_keras_round_trip
from tests.models import llama_reference
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


@pytest.mark.parametrize("kind", ["classic", "rotary", "llama"])
def test_cache_matches_full(kind):
    if kind == "llama":
        block, kv_heads = llama_block(), 2
    else:
        block, kv_heads = TransformerBlock(HEADS, 64,
                                           rotary=kind == "rotary"), HEADS
    x = random_inputs()
    full = ops.convert_to_numpy(block(x))
    cache = np.zeros((2, 2, LENGTH, kv_heads, WIDTH // HEADS), "float32")
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


# === The Llama block: RMSNorm, SwiGLU, grouped-query attention ===

def llama_block(**kwargs):
    arguments = dict(num_heads=HEADS, intermediate_dim=48, rotary=True,
                     activation="silu", use_bias=False,
                     normalization="rms_norm", feed_forward="gated",
                     num_key_value_heads=2, rotary_max_wavelength=100000)
    return TransformerBlock(**{**arguments, **kwargs})


def randomize(layer, seed=0):
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        if weight.path.endswith("scale"):  # RMSNorm: around 1
            weight.assign(1.0 + rng.normal(scale=0.2, size=weight.shape))
        else:
            weight.assign(rng.normal(scale=0.2, size=weight.shape))


def block_weights(block, prefix="model.layers.0"):
    """The block's weights in `llama_reference`'s (Hugging Face's) names."""
    def kernel(dense):
        return ops.convert_to_numpy(dense.kernel).T

    attention = block.attention
    return {
        f"{prefix}.input_layernorm.weight":
            ops.convert_to_numpy(block.attention_norm.scale),
        f"{prefix}.self_attn.q_proj.weight": kernel(attention.query_dense),
        f"{prefix}.self_attn.k_proj.weight": kernel(attention.key_dense),
        f"{prefix}.self_attn.v_proj.weight": kernel(attention.value_dense),
        f"{prefix}.self_attn.o_proj.weight": kernel(attention.output_dense),
        f"{prefix}.post_attention_layernorm.weight":
            ops.convert_to_numpy(block.mlp_norm.scale),
        f"{prefix}.mlp.gate_proj.weight": kernel(block.mlp_gate),
        f"{prefix}.mlp.up_proj.weight": kernel(block.mlp_in),
        f"{prefix}.mlp.down_proj.weight": kernel(block.mlp_out),
    }


def test_rms_norm_matches_numpy():
    block = llama_block(layer_norm_epsilon=1e-5)
    x = random_inputs() * 3.0 + 0.5  # an RMSNorm does not centre
    block(x)
    randomize(block)
    norm = block.attention_norm
    assert isinstance(norm, keras.layers.RMSNormalization)
    assert [w.path.removeprefix(block.name + "/") for w in norm.weights] \
        == ["attention_norm/scale"]
    expected = llama_reference.rms_norm(
        x, ops.convert_to_numpy(norm.scale), 1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(norm(x)), expected,
                               rtol=1e-5, atol=1e-5)
    # The epsilon is inside the square root: visible on tiny inputs.
    tiny = x * 1e-3
    np.testing.assert_allclose(
        ops.convert_to_numpy(norm(tiny)),
        llama_reference.rms_norm(tiny, ops.convert_to_numpy(norm.scale),
                                 1e-5), rtol=1e-5, atol=1e-6)


def test_rms_norm_computes_in_float32_under_bfloat16():
    norm = llama_block(dtype="mixed_bfloat16")
    x = random_inputs() * 3.0
    norm(x)
    layer = norm.attention_norm
    y = layer(x)
    assert y.dtype == "bfloat16" and layer.scale.dtype == "float32"
    # Within one bfloat16 rounding of the float64 result (of the
    # bfloat16-rounded inputs that the layer sees).
    x16 = ops.convert_to_numpy(ops.cast(ops.cast(x, "bfloat16"), "float32"))
    expected = llama_reference.rms_norm(x16, 1.0, 1e-5)
    np.testing.assert_allclose(
        ops.convert_to_numpy(ops.cast(y, "float32")), expected,
        rtol=2 ** -8, atol=1e-6)


def test_swiglu_feed_forward_matches_numpy():
    block = llama_block()
    x = random_inputs()
    block(x)
    randomize(block)
    assert (block.mlp_gate.kernel.shape, block.mlp_in.kernel.shape,
            block.mlp_out.kernel.shape) == ((WIDTH, 48), (WIDTH, 48),
                                            (48, WIDTH))
    expected = llama_reference.swiglu(x, block_weights(block),
                                      "model.layers.0.mlp")
    np.testing.assert_allclose(
        ops.convert_to_numpy(block._mlp(x, training=False)), expected,
        rtol=1e-4, atol=1e-4)


def test_llama_block_matches_numpy():
    block = llama_block()
    x = random_inputs()
    block(x)
    randomize(block)
    config = {"num_attention_heads": HEADS, "num_key_value_heads": 2,
              "rms_norm_eps": 1e-5, "rope_theta": 100000.0}
    expected = llama_reference.decoder_layer(x, block_weights(block), 0,
                                             config)
    np.testing.assert_allclose(ops.convert_to_numpy(block(x)), expected,
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("use_bias", [False, True])
def test_llama_block_weights(use_bias):
    block = llama_block(use_bias=use_bias)
    block(random_inputs())
    paths = [w.path for w in block.weights]
    projections = ["attention/query", "attention/key", "attention/value",
                   "attention/output", "mlp_gate", "mlp_in", "mlp_out"]
    expected = ["attention_norm/scale"]
    for name in projections:
        if name == "mlp_gate":
            expected.append("mlp_norm/scale")
        expected.append(f"{name}/kernel")
        if use_bias:
            expected.append(f"{name}/bias")
    prefix = block.name + "/"
    assert [p.removeprefix(prefix) for p in paths] == expected


@pytest.mark.parametrize("options", [
    dict(), dict(norm_first=False, causal=False, rotary=False,
                 num_key_value_heads=None, use_bias=True)])
def test_llama_block_keras_round_trip(tmp_path, options):
    block = llama_block(dropout=0.1, layer_norm_epsilon=1e-6, **options)
    assert_keras_round_trip(block, random_inputs(), tmp_path)


def test_unknown_normalization_or_feed_forward():
    with pytest.raises(ValueError, match="unknown normalization 'batch'"):
        TransformerBlock(HEADS, 64, normalization="batch")
    with pytest.raises(ValueError, match="unknown feed_forward 'swiglu'"):
        TransformerBlock(HEADS, 64, feed_forward="swiglu")
