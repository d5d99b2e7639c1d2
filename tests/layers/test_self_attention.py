import numpy as np
import pytest
from keras import ops

from tests.layers.roundtrip import assert_keras_round_trip
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


@pytest.mark.parametrize("causal", [True, False])
def test_padding_mask_hides_padded_keys(causal):
    layer = SelfAttention(num_heads=HEADS, causal=causal)
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


@pytest.mark.parametrize("prefill,rotary", [(1, False), (4, False), (4, True)])
def test_cache_matches_full_attention(prefill, rotary):
    layer = SelfAttention(num_heads=HEADS, causal=True, rotary=rotary)
    x = random_inputs()
    full = ops.convert_to_numpy(layer(x))
    cache = np.zeros((2, 2, LENGTH + 3, HEADS, WIDTH // HEADS), "float32")
    outputs, cache = layer(x[:, :prefill], cache=cache, cache_index=0)
    pieces = [ops.convert_to_numpy(outputs)]
    for t in range(prefill, LENGTH):
        outputs, cache = layer(x[:, t : t + 1], cache=cache, cache_index=t)
        pieces.append(ops.convert_to_numpy(outputs))
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
