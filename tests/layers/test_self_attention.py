import numpy as np
import pytest
from keras import ops

from tests.layers.roundtrip import assert_keras_round_trip
from tests.models import llama_reference
from tfzoo.layers import SelfAttention

WIDTH, HEADS, LENGTH = 32, 4, 10


def random_inputs(batch=2, length=LENGTH, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, length, WIDTH)).astype("float32")


@pytest.mark.parametrize("rotary", [False, True])
def test_causality(rotary):
    layer = SelfAttention(num_heads=HEADS, causal=True, rotary=rotary)
    x = random_inputs()
    before = ops.convert_to_numpy(layer(x))
    for t in range(LENGTH - 1):
        changed = x.copy()
        changed[:, t + 1 :] += 1.0
        after = ops.convert_to_numpy(layer(changed))
        np.testing.assert_array_equal(after[:, : t + 1], before[:, : t + 1])
        assert not np.allclose(after[:, t + 1], before[:, t + 1])


def test_bidirectional_sees_the_future():
    layer = SelfAttention(num_heads=HEADS, causal=False)
    x = random_inputs()
    changed = x.copy()
    changed[:, -1] += 1.0
    assert not np.allclose(
        ops.convert_to_numpy(layer(changed))[:, 0],
        ops.convert_to_numpy(layer(x))[:, 0],
    )


@pytest.mark.parametrize("kv_heads", [None, 2, 1])
@pytest.mark.parametrize("causal", [True, False])
def test_padding_mask_hides_padded_keys(causal, kv_heads):
    layer = SelfAttention(num_heads=HEADS, causal=causal,
                          num_key_value_heads=kv_heads)
    x = random_inputs()
    padding_mask = np.ones((2, LENGTH), bool)
    padding_mask[0, 6:] = False  # the first sequence has 6 real tokens
    outputs = ops.convert_to_numpy(layer(x, padding_mask=padding_mask))
    changed = x.copy()
    changed[0, 6:] = 100.0  # whatever the padding holds
    changed_outputs = ops.convert_to_numpy(
        layer(changed, padding_mask=padding_mask)
    )
    np.testing.assert_allclose(changed_outputs[0, :6], outputs[0, :6],
                               atol=1e-6)
    # The unpadded sequence is the same as with no mask at all.
    np.testing.assert_allclose(
        outputs[1], ops.convert_to_numpy(layer(x))[1], atol=1e-6
    )
    # A real token alone with its padding equals the same short sequence.
    short = ops.convert_to_numpy(layer(x[:1, :6]))
    np.testing.assert_allclose(outputs[0, :6], short[0], atol=1e-5)


@pytest.mark.parametrize("prefill,rotary,kv_heads", [
    (1, False, None), (4, False, None), (4, True, None), (1, True, 2),
    (4, True, 2), (4, True, 1)])
def test_cache_matches_full_attention(prefill, rotary, kv_heads):
    layer = SelfAttention(num_heads=HEADS, causal=True, rotary=rotary,
                          num_key_value_heads=kv_heads,
                          rotary_max_wavelength=100000)
    x = random_inputs()
    full = ops.convert_to_numpy(layer(x))
    # The cache holds the key/value heads: all heads in the classic layout.
    cache_shape = (2, 2, LENGTH + 3, kv_heads or HEADS, WIDTH // HEADS)
    cache = np.zeros(cache_shape, "float32")
    outputs, cache = layer(x[:, :prefill], cache=cache, cache_index=0)
    pieces = [ops.convert_to_numpy(outputs)]
    for t in range(prefill, LENGTH):
        outputs, cache = layer(x[:, t : t + 1], cache=cache, cache_index=t)
        pieces.append(ops.convert_to_numpy(outputs))
    assert cache.shape == cache_shape
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full,
                               atol=1e-5)
    # The cache holds the keys and values of every position seen.
    assert np.any(ops.convert_to_numpy(cache)[:, :, LENGTH - 1] != 0)
    assert np.all(ops.convert_to_numpy(cache)[:, :, LENGTH:] == 0)


def test_cache_needs_causal_and_index():
    cache = np.zeros((2, 2, LENGTH, HEADS, WIDTH // HEADS), "float32")
    with pytest.raises(ValueError, match="causal"):
        SelfAttention(HEADS, causal=False)(
            random_inputs(), cache=cache, cache_index=0
        )
    with pytest.raises(ValueError, match="cache_index"):
        SelfAttention(HEADS, causal=True)(random_inputs(), cache=cache)


def test_width_must_divide_into_heads():
    with pytest.raises(ValueError, match="multiple of num_heads"):
        SelfAttention(num_heads=5, causal=True)(random_inputs())


def test_one_fused_projection():
    layer = SelfAttention(num_heads=HEADS, causal=True)
    layer(random_inputs())
    assert layer.qkv.kernel.shape == (WIDTH, 3 * WIDTH)


@pytest.mark.parametrize("causal,rotary", [(True, False), (False, False),
                                           (True, True)])
def test_keras_round_trip(tmp_path, causal, rotary):
    assert_keras_round_trip(
        SelfAttention(num_heads=HEADS, causal=causal, rotary=rotary,
                      dropout=0.1),
        random_inputs(), tmp_path,
    )


def test_rotary_attention_sees_relative_positions():
    # The same vector at every position: plain attention cannot tell the
    # keys apart and reads them evenly; rotary attention weighs them by
    # their distance from the query, the same at any absolute position.
    x = np.repeat(random_inputs(batch=1, length=1), LENGTH, axis=1)
    plain = SelfAttention(num_heads=HEADS, causal=True)
    weights = ops.convert_to_numpy(plain.attention_weights(x))
    np.testing.assert_allclose(weights[0, :, -1], 1.0 / LENGTH, rtol=1e-5)
    rotary = SelfAttention(num_heads=HEADS, causal=True, rotary=True)
    weights = ops.convert_to_numpy(rotary.attention_weights(x))
    assert not np.allclose(weights[0, :, -1], 1.0 / LENGTH, rtol=1e-3)
    # The score of query i on key j depends on i - j only: query 4 reads
    # keys 0..4 the way query 9 reads keys 5..9, before normalization.
    near = weights[0, :, 4, :5] / weights[0, :, 4, 4:5]
    far = weights[0, :, 9, 5:] / weights[0, :, 9, 9:]
    np.testing.assert_allclose(near, far, rtol=1e-4)


def test_rotary_needs_an_even_head_size():
    with pytest.raises(ValueError, match="even head size"):
        # WIDTH heads of size 1
        SelfAttention(num_heads=WIDTH, causal=True,
                      rotary=True)(random_inputs())


@pytest.mark.parametrize("causal", [True, False])
def test_attention_weights_are_what_the_layer_mixes(causal):
    layer = SelfAttention(num_heads=HEADS, causal=causal)
    x = random_inputs()
    padding = np.ones((2, LENGTH), "int32")
    padding[1, 7:] = 0
    weights = ops.convert_to_numpy(layer.attention_weights(x, padding))
    assert weights.shape == (2, HEADS, LENGTH, LENGTH)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    if causal:  # nothing above the diagonal
        assert np.all(np.triu(weights, k=1) == 0)
    else:
        assert np.all(weights[0] > 0)
    assert np.all(weights[1, :, :, 7:] == 0)  # padded keys are not read
    # The weights times the values, through the output projection, are the
    # layer's own outputs.
    _, _, value = np.split(ops.convert_to_numpy(layer.qkv(x)), 3, axis=-1)
    value = value.reshape(2, LENGTH, HEADS, -1).transpose(0, 2, 1, 3)
    mixed = (weights @ value).transpose(0, 2, 1, 3).reshape(2, LENGTH, -1)
    expected = ops.convert_to_numpy(layer(x, padding_mask=padding))
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer.output_dense(mixed))[:, :7],
        expected[:, :7], atol=1e-5)


def test_a_file_saved_as_causal_self_attention_still_loads(tmp_path):
    # Before tfzoo named it SelfAttention(causal=...), the layer was
    # CausalSelfAttention; files saved then must open.
    import zipfile

    import keras

    from tests.old_format import old_keras_file

    x = random_inputs()
    inputs = keras.Input(shape=x.shape[1:])
    layer = SelfAttention(num_heads=HEADS, causal=True, rotary=True)
    model = keras.Model(inputs, layer(inputs))
    path = str(tmp_path / "old.keras")
    model.save(path)
    old_keras_file(path)
    with zipfile.ZipFile(path) as archive:
        config = archive.read("config.json").decode()
    assert "tfzoo>CausalSelfAttention" in config
    assert "tfzoo>SelfAttention" not in config
    restored = keras.saving.load_model(path)
    restored_layer = restored.layers[-1]
    assert type(restored_layer) is SelfAttention
    assert restored_layer.causal and restored_layer.rotary
    np.testing.assert_array_equal(ops.convert_to_numpy(restored(x)),
                                  ops.convert_to_numpy(model(x)))


# === Grouped-query attention and the rotary base, against numpy ===

def projections(layer):
    """The layer's projections as Hugging Face-style `{q,k,v,o}_proj`
    weights `(out, in)` (and biases), for `llama_reference.attention`."""
    if layer.num_key_value_heads is None:
        kernels = np.split(ops.convert_to_numpy(layer.qkv.kernel), 3, axis=1)
        biases = (np.split(ops.convert_to_numpy(layer.qkv.bias), 3)
                  if layer.use_bias else [None] * 3)
        dense = list(zip(kernels, biases))
    else:
        dense = [(ops.convert_to_numpy(d.kernel),
                  ops.convert_to_numpy(d.bias) if layer.use_bias else None)
                 for d in (layer.query_dense, layer.key_dense,
                           layer.value_dense)]
    output = layer.output_dense
    dense.append((ops.convert_to_numpy(output.kernel),
                  ops.convert_to_numpy(output.bias) if layer.use_bias
                  else None))
    weights = {}
    for name, (kernel, bias) in zip(["q", "k", "v", "o"], dense):
        weights[f"attn.{name}_proj.weight"] = kernel.T
        if bias is not None:
            weights[f"attn.{name}_proj.bias"] = bias
    return weights


def randomize(layer, seed=0):
    """Random weights, biases included, so that zeros hide nothing."""
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(rng.normal(scale=0.3, size=weight.shape))


@pytest.mark.parametrize("kv_heads,use_bias,base", [
    (2, False, 100000), (1, False, 100000), (4, True, 10000),
    (None, True, 100000)])
def test_attention_matches_numpy(kv_heads, use_bias, base):
    layer = SelfAttention(num_heads=HEADS, causal=True, rotary=True,
                          use_bias=use_bias, num_key_value_heads=kv_heads,
                          rotary_max_wavelength=base)
    x = random_inputs()
    layer(x)
    randomize(layer)
    expected = llama_reference.attention(
        x, projections(layer), "attn", HEADS, kv_heads or HEADS,
        rope_theta=base)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), expected,
                               atol=1e-4, rtol=1e-4)


def test_a_default_rotary_base_is_not_a_larger_one():
    # The reference itself tells the bases apart, at these positions.
    layer = SelfAttention(num_heads=HEADS, causal=True, rotary=True,
                          num_key_value_heads=2, rotary_max_wavelength=100000)
    x = random_inputs()
    layer(x)
    randomize(layer)
    default_base = llama_reference.attention(
        x, projections(layer), "attn", HEADS, 2, rope_theta=10000.0)
    assert np.abs(ops.convert_to_numpy(layer(x)) - default_base).max() > 1e-2


@pytest.mark.parametrize("base", [10000, 100000])
def test_rotary_embedding_is_hugging_faces_rotate_half(base):
    # keras-hub's RotaryEmbedding (what SelfAttention rotates with) pairs
    # dimension i with i + head_dim / 2, as Hugging Face's Llama, not
    # (2i, 2i + 1) as GPT-J and llama.cpp.
    layer = SelfAttention(num_heads=HEADS, causal=True, rotary=True,
                          rotary_max_wavelength=base)
    layer(random_inputs())
    assert layer.rotary_embedding.max_wavelength == base
    heads = np.random.default_rng(3).normal(
        size=(2, 300, 3, 16)).astype("float32")
    rotated = ops.convert_to_numpy(
        layer.rotary_embedding(heads, start_index=5))
    positions = np.arange(5, 305)
    np.testing.assert_allclose(
        rotated, llama_reference.rotary(heads, positions, base), atol=1e-4)
    assert np.abs(rotated - llama_reference.rotary_interleaved(
        heads, positions, base)).max() > 0.5


@pytest.mark.parametrize("use_bias", [True, False])
def test_grouped_projections_are_separate(use_bias):
    layer = SelfAttention(num_heads=HEADS, causal=True, use_bias=use_bias,
                          num_key_value_heads=2)
    layer(random_inputs())
    head_dim = WIDTH // HEADS
    assert not hasattr(layer, "qkv")
    shapes = {w.path.split("/", 1)[1]: tuple(w.shape) for w in layer.weights}
    expected = {"query/kernel": (WIDTH, HEADS * head_dim),
                "key/kernel": (WIDTH, 2 * head_dim),
                "value/kernel": (WIDTH, 2 * head_dim),
                "output/kernel": (HEADS * head_dim, WIDTH)}
    if use_bias:
        expected.update({"query/bias": (HEADS * head_dim,),
                         "key/bias": (2 * head_dim,),
                         "value/bias": (2 * head_dim,),
                         "output/bias": (WIDTH,)})
    assert shapes == expected


@pytest.mark.parametrize("kv_heads", [0, 3, -2])
def test_key_value_heads_must_divide_the_heads(kv_heads):
    with pytest.raises(ValueError, match="must divide num_heads"):
        SelfAttention(num_heads=HEADS, causal=True,
                      num_key_value_heads=kv_heads)


@pytest.mark.parametrize("kv_heads", [2, 1])
def test_grouped_attention_weights_are_what_the_layer_mixes(kv_heads):
    layer = SelfAttention(num_heads=HEADS, causal=True, rotary=True,
                          num_key_value_heads=kv_heads)
    x = random_inputs()
    weights = ops.convert_to_numpy(layer.attention_weights(x))
    assert weights.shape == (2, HEADS, LENGTH, LENGTH)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.triu(weights, k=1) == 0)
    value = ops.convert_to_numpy(layer.value_dense(x))
    value = value.reshape(2, LENGTH, kv_heads, -1).transpose(0, 2, 1, 3)
    value = np.repeat(value, HEADS // kv_heads, axis=1)
    mixed = (weights @ value).transpose(0, 2, 1, 3).reshape(2, LENGTH, -1)
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer.output_dense(mixed)),
        ops.convert_to_numpy(layer(x)), atol=1e-5)


@pytest.mark.parametrize("kv_heads", [2, 4])
def test_grouped_keras_round_trip(tmp_path, kv_heads):
    layer = SelfAttention(num_heads=HEADS, causal=True, rotary=True,
                          use_bias=False, num_key_value_heads=kv_heads,
                          rotary_max_wavelength=100000, dropout=0.1)
    assert_keras_round_trip(layer, random_inputs(), tmp_path)
    config = layer.get_config()
    assert (config["num_key_value_heads"], config["rotary_max_wavelength"]) \
        == (kv_heads, 100000)


def test_one_token_attends_without_warnings():
    import warnings

    layer = SelfAttention(num_heads=HEADS, causal=True,
                          num_key_value_heads=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outputs = ops.convert_to_numpy(layer(random_inputs(length=1)))
    # One key: the output is its projected value.
    value = ops.convert_to_numpy(layer.value_dense(random_inputs(length=1)))
    value = np.repeat(value.reshape(2, 1, 2, -1), HEADS // 2, axis=2)
    np.testing.assert_allclose(
        outputs, ops.convert_to_numpy(
            layer.output_dense(value.reshape(2, 1, WIDTH))), atol=1e-5)
