"""`read_gguf`: tiny random llama GGUF files, written here as llama.cpp
writes them (query and key rows permuted, matrices F32 or quantized), load
into a `TransformerLM` whose logits are the numpy Llama's on the weights
the file holds."""

import keras
import numpy as np
import pytest

from tests.models import llama_reference
from tests.models.tiny_checkpoints import (CHATML_TEMPLATE, llama_config,
                                           llama_weights, permute,
                                           token_ids, write_llama_gguf)
from tfzoo.models.gguf_checkpoint import read_gguf, unpermute
from tfzoo.runs.pretrained import load_pretrained

gguf = pytest.importorskip("gguf")


def test_unpermute_undoes_llamacpps_permutation():
    weight = np.arange(8 * 16 * 3, dtype=np.float32).reshape(8 * 16, 3)
    for heads in (1, 2, 8):
        permuted = permute(weight, heads)
        assert not np.array_equal(permuted, weight)
        np.testing.assert_array_equal(unpermute(permuted, heads), weight)
    # Head 0's rows 0 and 8 (a rotary pair in Hugging Face's layout) are
    # adjacent in llama.cpp's.
    np.testing.assert_array_equal(permute(weight, 8)[:2],
                                  weight[[0, 8]])


@pytest.mark.parametrize("tensor_type, tied", [
    ("F32", True), ("Q8_0", False), ("Q4_1", True)])
def test_a_tiny_gguf_matches_the_numpy_llama(tmp_path, tensor_type, tied):
    config = llama_config(tie_word_embeddings=tied)
    path = str(tmp_path / "tiny.gguf")
    stored = write_llama_gguf(path, config, llama_weights(config),
                              tensor_type)
    run = load_pretrained(path)
    ids = token_ids()
    expected = llama_reference.forward(stored, ids, config)
    logits = keras.ops.convert_to_numpy(run.model(ids))
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=1e-4)
    assert run.model.tie_embeddings == tied
    assert run.settings["architecture"] == "llama"
    assert run.settings["source"] == path
    assert run.settings["special_tokens"] == {"bos": "<|im_start|>",
                                              "eos": "<|im_end|>"}
    assert run.chat_template == CHATML_TEMPLATE
    ids = run.tokenizer.tokenize("<|im_start|>user the<|im_end|>")
    assert ids.numpy().tolist() == [1] + [
        run.tokenizer.token_to_id(t) for t in ("u", "s", "er", "Ġthe")] + [2]

def test_read_gguf_reads_the_architecture_fields(tmp_path):
    config = llama_config(num_key_value_heads=1, rms_norm_eps=1e-6,
                          tie_word_embeddings=False)
    path = str(tmp_path / "tiny.gguf")
    write_llama_gguf(path, config, llama_weights(config), chat_template=None)
    checkpoint = read_gguf(path)
    assert checkpoint.arguments == dict(
        vocabulary_size=config["vocab_size"], max_sequence_length=64,
        num_layers=2, num_heads=4, num_key_value_heads=1, hidden_dim=64,
        intermediate_dim=96, dropout=0.0, tie_embeddings=False,
        positional_embedding="rotary", rotary_max_wavelength=500.0,
        use_bias=False, layer_norm_epsilon=pytest.approx(1e-6),
        normalization="rms_norm", feed_forward="swiglu")
    assert checkpoint.chat_template is None
    assert sorted(checkpoint.weights) == sorted(llama_weights(config))
