import keras
import numpy as np
import pytest
from keras import ops

from tfzoo.models import LSTMSeq2Seq, TransformerSeq2Seq, build_model

VOCABULARY = 40


def transformer(**overrides):
    arguments = dict(vocabulary_size=VOCABULARY, max_sequence_length=16,
                     num_encoder_layers=2, num_decoder_layers=2, num_heads=4,
                     hidden_dim=32)
    return TransformerSeq2Seq(**{**arguments, **overrides})


def lstm():
    return LSTMSeq2Seq(vocabulary_size=VOCABULARY, max_sequence_length=16,
                       embedding_dim=16, hidden_dim=32)


MODELS = {
    "transformer": transformer,
    "transformer-post-ln-learned": lambda: transformer(
        norm_first=False, positional_embedding="learned",
        tie_embeddings=False),
    "lstm": lstm,
}


def batch(seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones((2, 7), "int32")
    mask[1, 4:] = 0
    return {"encoder_token_ids": rng.integers(4, VOCABULARY, (2, 7)).astype(
                "int32") * mask + 3 * (1 - mask),
            "encoder_padding_mask": mask,
            "decoder_token_ids": rng.integers(4, VOCABULARY, (2, 6)).astype(
                "int32")}


def numpy(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize("name", MODELS)
def test_logits_shape_and_dtype(name):
    logits = MODELS[name]()(batch())
    assert tuple(logits.shape) == (2, 6, VOCABULARY)
    assert logits.dtype == "float32"


@pytest.mark.parametrize("name", MODELS)
def test_decoder_is_causal(name):
    model, inputs = MODELS[name](), batch()
    changed = dict(inputs, decoder_token_ids=inputs["decoder_token_ids"]
                   .copy())
    changed["decoder_token_ids"][:, 3:] = 5
    np.testing.assert_array_equal(numpy(model(changed))[:, :3],
                                  numpy(model(inputs))[:, :3])


@pytest.mark.parametrize("name", MODELS)
def test_padded_source_positions_never_change_the_output(name):
    model, inputs = MODELS[name](), batch()
    changed = dict(inputs, encoder_token_ids=inputs["encoder_token_ids"]
                   .copy())
    changed["encoder_token_ids"][1, 4:] = [7, 8, 9]
    np.testing.assert_array_equal(numpy(model(changed)),
                                  numpy(model(inputs)))
    # A real source token does change it.
    changed["encoder_token_ids"][1, 0] += 1
    assert not np.allclose(numpy(model(changed))[1], numpy(model(inputs))[1])


@pytest.mark.parametrize("name", MODELS)
def test_cached_steps_equal_the_full_model(name):
    model, inputs = MODELS[name](), batch()
    full = numpy(model(inputs))
    state, cache = model.encode_source(inputs["encoder_token_ids"],
                                       inputs["encoder_padding_mask"])
    for i in range(6):
        logits, cache = model.call_with_cache(
            inputs["decoder_token_ids"][:, i:i + 1], cache, i, state)
        np.testing.assert_allclose(numpy(logits)[:, 0], full[:, i],
                                   atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_keras_round_trip(name, tmp_path):
    model, inputs = MODELS[name](), batch()
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(numpy(restored(inputs)),
                                  numpy(model(inputs)))


@pytest.mark.parametrize("name", MODELS)
def test_cross_attention_weights_cover_the_real_source(name):
    weights = MODELS[name]().cross_attention_weights(batch())
    for layer in weights:
        layer = numpy(layer)
        assert layer.shape[0] == 2 and layer.shape[2:] == (6, 7)
        np.testing.assert_allclose(layer.sum(-1), 1.0, atol=1e-5)
        assert np.all(layer[1, :, :, 4:] < 1e-6)


def test_tied_embeddings_share_one_table():
    tied, untied = transformer(), transformer(tie_embeddings=False)
    assert untied.count_params() - tied.count_params() == VOCABULARY * 32


def test_transformer_base_has_the_papers_size():
    # Vaswani et al. (2017), table 3: 65M parameters with a shared
    # vocabulary of about 37,000 tokens.
    model = build_model("transformer-base", vocabulary_size=37000)
    assert (model.num_encoder_layers, model.num_decoder_layers,
            model.hidden_dim, model.num_heads, model.intermediate_dim,
            model.dropout, model.norm_first) == (6, 6, 512, 8, 2048, 0.1,
                                                 False)
    assert 60e6 < model.count_params() < 66e6


@pytest.mark.parametrize("preset", ["seq2seq-tiny", "seq2seq-small",
                                    "lstm-seq2seq"])
def test_presets_build(preset):
    model = build_model(preset, vocabulary_size=100)
    assert model.count_params() > 0


def test_bad_positional_embedding():
    with pytest.raises(ValueError, match="positional_embedding"):
        transformer(positional_embedding="rotary")
