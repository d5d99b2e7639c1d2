"""Every per-model cache follows the model (#31.3): after a first call,
the model is changed in place (int8 quantization, load_weights, LoRA
adapters, set_weights) and the next call must compute the changed model,
as an uncached module built on it does."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfzoo
from tfzoo.generation.translate import translate
from tfzoo.models import BertClassifier, BertEncoder, TransformerLM
from tfzoo.models.model_cache import ModelCache, variables_layout
from tfzoo.models.transformer_seq2seq import TransformerSeq2Seq
from tfzoo.serving.text_generator import TextGenerator
from tfzoo.serving.translator import Translator
from tfzoo.tasks.classification import predict_probabilities
from tfzoo.text import BertPreprocessor, CharTokenizer
from tfzoo.text.subword_tokenizer import train_subword_tokenizer

from tests.conftest import make_text

CHANGES = ["quantize", "load_weights", "enable_lora", "set_weights"]


def changes(*default):
    """`CHANGES` as test parameters: those in `default` in the default run,
    the others marked slow (together the default run makes each change
    at least once)."""
    return [pytest.param(how, marks=[] if how in default
                         else [pytest.mark.slow]) for how in CHANGES]


def change(model, how, tmp_path):
    """Changes `model` in place, as a user would."""
    rng = np.random.default_rng(7)
    if how == "quantize":
        tfzoo.quantize(model)
    elif how == "set_weights":
        model.set_weights([w + rng.normal(0, 0.5, w.shape).astype(w.dtype)
                           for w in model.get_weights()])
    elif how == "load_weights":
        path = str(tmp_path / "other.weights.h5")
        other = [w + rng.normal(0, 0.5, w.shape).astype(w.dtype)
                 for w in model.get_weights()]
        original = model.get_weights()
        model.set_weights(other)
        model.save_weights(path)
        model.set_weights(original)
        model.load_weights(path)
    else:  # LoRA adapters on every Dense layer, with weights that matter
        for layer in model._flatten_layers():
            if isinstance(layer, keras.layers.Dense) and layer.built:
                layer.enable_lora(2)
                layer.lora_kernel_b.assign(rng.normal(
                    0, 1.0, layer.lora_kernel_b.shape).astype("float32"))


def test_the_layout_changes_with_the_variables_not_their_values():
    model = TransformerLM(20, 16, num_layers=1, num_heads=2, hidden_dim=16)
    layout = variables_layout(model)
    model.set_weights([w * 2 for w in model.get_weights()])
    assert variables_layout(model) == layout
    tfzoo.quantize(model)
    assert variables_layout(model) != layout
    cache, built = ModelCache(), []
    for _ in range(2):
        cache.get(model, "k", lambda: built.append(1))
    assert built == [1]


@pytest.fixture(scope="module")
def text():
    return make_text(400)


def small_lm(text):
    keras.utils.set_random_seed(1)
    tokenizer = CharTokenizer.from_text(text)
    model = TransformerLM(tokenizer.vocabulary_size(), 32, num_layers=1,
                          num_heads=2, hidden_dim=32)
    return model, tokenizer


@pytest.mark.parametrize("how", changes("enable_lora"))
def test_generate_and_score_follow_the_model(text, how, tmp_path):
    model, tokenizer = small_lm(text)
    options = dict(max_new_tokens=12, temperature=0.0)
    before = tfzoo.generate(model, tokenizer, ["the king"], **options)
    scored = tfzoo.score(model, tokenizer, ["the king and queen"])
    change(model, how, tmp_path)
    fresh = TextGenerator(model, tokenizer)
    expected = fresh.generate(tf.constant(["the king"]), tf.constant(12),
                              tf.constant(0.0))["text"].numpy()
    after = tfzoo.generate(model, tokenizer, ["the king"], **options)
    assert [after[0].encode()] == list(expected)
    expected_score = fresh.score(tf.constant(["the king and queen"]))
    after_score = tfzoo.score(model, tokenizer, ["the king and queen"])
    np.testing.assert_allclose(after_score["log_likelihood"],
                               expected_score["log_likelihood"], rtol=1e-5)
    # The change mattered: the cache would have given the old answers.
    assert (after != before or not np.allclose(
        after_score["log_likelihood"], scored["log_likelihood"]))


@pytest.mark.parametrize("how", changes("load_weights", "quantize"))
def test_translate_follows_the_model(text, how, tmp_path):
    keras.utils.set_random_seed(2)
    tokenizer = train_subword_tokenizer(text, 300, pad_id=3)
    model = TransformerSeq2Seq(tokenizer.vocabulary_size(), 24,
                               num_encoder_layers=1, num_decoder_layers=1,
                               num_heads=2, hidden_dim=32)
    # Sampled (one batch, shortest first, as translate() orders it), so
    # that any change of the logits changes the words.
    sources = ["stars are born", "the king and queen"]
    options = dict(max_new_tokens=10, temperature=1.0, seed=3)
    before = translate(model, tokenizer, sources, **options)
    cached = cached_translator(model, tokenizer)
    change(model, how, tmp_path)
    fresh = Translator(model, tokenizer)
    tokens = fresh.translate_ids_function(
        tf.constant(sources), 1, tf.constant(10), tf.constant(1.0),
        tf.constant(0), tf.constant(1.0), tf.constant([3, 0], tf.int32),
        tf.constant(0.6))
    expected = [t.decode() for t in
                fresh.decode_tokens_function(tokens).numpy()]
    after = translate(model, tokenizer, sources, **options)
    assert after == expected
    # The change mattered: the words changed, or (int8 weights often pick
    # the same words) the graph was traced again for the new variables.
    assert after != before or cached_translator(model, tokenizer) is not (
        cached)


def cached_translator(model, tokenizer):
    import importlib

    module = importlib.import_module("tfzoo.generation.translate")
    return module._TRANSLATORS.get(model, (id(tokenizer), True, True),
                                   lambda: None)


@pytest.mark.parametrize("how", changes("set_weights"))
def test_classifier_probabilities_follow_the_model(text, how, tmp_path):
    keras.utils.set_random_seed(3)
    lines = text.splitlines()
    preprocessor = BertPreprocessor.from_texts(lines, 200, 16)
    encoder = BertEncoder(preprocessor.vocabulary_size(), num_layers=1,
                          num_heads=2, hidden_dim=16, intermediate_dim=32,
                          max_sequence_length=16)
    model = BertClassifier(encoder, num_classes=2)
    before = predict_probabilities(model, preprocessor, lines[:8])
    change(model, how, tmp_path)
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(
        model(preprocessor(tf.constant(lines[:8])), training=False)))
    after = predict_probabilities(model, preprocessor, lines[:8])
    np.testing.assert_allclose(after, expected, atol=1e-5)
    assert not np.allclose(after, before, atol=1e-5)
