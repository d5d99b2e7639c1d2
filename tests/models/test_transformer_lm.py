import keras
import numpy as np
import pytest

from tfzoo.models import PRESETS, TransformerLM, build_model

VOCAB = 30


def small_model(**kwargs):
    arguments = dict(vocabulary_size=VOCAB, max_sequence_length=16,
                     num_layers=2, num_heads=2, hidden_dim=16)
    return TransformerLM(**{**arguments, **kwargs})


def token_ids(batch=2, length=16, seed=0):
    return np.random.default_rng(seed).integers(0, VOCAB, (batch, length))


def test_logits_shape_and_dtype():
    logits = small_model()(token_ids())
    assert logits.shape == (2, 16, VOCAB)
    assert logits.dtype == "float32"


@pytest.mark.parametrize("positional", ["learned", "rotary"])
def test_model_is_causal(positional):
    model = small_model(positional_embedding=positional)
    ids = token_ids()
    before = keras.ops.convert_to_numpy(model(ids))
    for t in range(15):
        changed = ids.copy()
        changed[:, t + 1] = (changed[:, t + 1] + 1) % VOCAB
        after = keras.ops.convert_to_numpy(model(changed))
        np.testing.assert_array_equal(after[:, : t + 1], before[:, : t + 1])
        assert not np.allclose(after[:, t + 1], before[:, t + 1])


def test_tied_head_shares_the_embedding():
    tied, untied = small_model(), small_model(tie_embeddings=False)
    assert untied.count_params() - tied.count_params() == 16 * VOCAB
    weight_names = [w.path for w in tied.weights]
    assert not any("reverse" in name for name in weight_names)


@pytest.mark.parametrize("positional", ["learned", "sinusoidal", "rotary"])
def test_keras_round_trip(tmp_path, positional):
    model = small_model(dropout=0.1, positional_embedding=positional)
    ids = token_ids()
    path = str(tmp_path / "gpt.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, TransformerLM)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored(ids)),
        keras.ops.convert_to_numpy(model(ids)),
    )


def test_rotary_model_has_no_position_table():
    learned, rotary = small_model(), small_model(positional_embedding="rotary")
    assert rotary.position_embedding is None
    assert learned.count_params() - rotary.count_params() == 16 * 16
    assert all(block.attention.rotary for block in rotary.blocks)
    with pytest.raises(ValueError, match="positional_embedding must be"):
        small_model(positional_embedding="alibi")


@pytest.mark.parametrize("positional", ["learned", "rotary"])
def test_cached_decoding_matches_the_full_model(positional):
    model = small_model(positional_embedding=positional)
    ids = token_ids()
    full = keras.ops.convert_to_numpy(model(ids))
    cache = model.initial_cache(batch_size=2, max_sequence_length=16)
    logits, cache = model.call_with_cache(ids[:, :5], cache, 0)
    pieces = [keras.ops.convert_to_numpy(logits)]
    for t in range(5, 16):
        logits, cache = model.call_with_cache(ids[:, t : t + 1], cache, t)
        pieces.append(keras.ops.convert_to_numpy(logits))
    np.testing.assert_allclose(np.concatenate(pieces, 1), full, atol=1e-5)


def test_presets():
    assert PRESETS["gpt-tiny"]["arguments"] == dict(
        max_sequence_length=64, num_layers=4, num_heads=4, hidden_dim=128,
        dropout=0.0)
    nano = build_model("gpt-shakespeare-char", vocabulary_size=65)
    assert (nano.num_layers, nano.num_heads, nano.hidden_dim,
            nano.max_sequence_length, nano.dropout) == (6, 6, 384, 256, 0.2)
    # nanoGPT reports 10.65M parameters for this model.
    assert 10.6e6 < nano.count_params() < 10.9e6
    textbook = build_model("gpt-textbook", vocabulary_size=10000)
    assert (textbook.num_layers, textbook.num_heads, textbook.hidden_dim) == (
        6, 8, 512)


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'gpt-huge'"):
        build_model("gpt-huge", vocabulary_size=10)


def test_attention_weights_per_block():
    model = small_model()
    weights = model.attention_weights(token_ids(length=9))
    assert len(weights) == 2
    for block_weights in weights:
        block_weights = keras.ops.convert_to_numpy(block_weights)
        assert block_weights.shape == (2, 2, 9, 9)
        np.testing.assert_allclose(block_weights.sum(-1), 1.0, rtol=1e-5)
        assert np.all(np.triu(block_weights, k=1) == 0)
    # Different blocks read differently.
    assert not np.allclose(weights[0], weights[1])
