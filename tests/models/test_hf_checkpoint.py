"""`read_hf_folder`: tiny random Hugging Face folders of model type llama
and gpt2, written here with `safetensors` and `tokenizers`, load into a
`TransformerLM` whose logits are the numpy reference's on the weights the
files hold (after their F16 or BF16 rounding)."""

import json
import os

import keras
import numpy as np
import pytest

from tests.models import gpt2_reference, llama_reference
from tests.models.tiny_checkpoints import (CHATML_TEMPLATE, gpt2_config,
                                           gpt2_weights, llama_config,
                                           llama_weights, token_ids,
                                           write_hf_folder)
from tfzoo.layers import gelu_approximate
from tfzoo.models.hf_checkpoint import read_hf_folder, read_safetensors
from tfzoo.runs.pretrained import load_pretrained


def v5_rope(config):
    """transformers v5's place for the rotary base."""
    config = dict(config)
    config["rope_parameters"] = {"rope_type": "default",
                                 "rope_theta": config.pop("rope_theta")}
    return config


@pytest.mark.parametrize("config, shards, dtype", [
    # Untied lm_head, grouped-query attention, the rotary base of v4.
    (llama_config(tie_word_embeddings=False), 1, "F32"),
    # As many key/value heads as heads, v5's rotary base, sharded, BF16.
    (v5_rope(llama_config(num_key_value_heads=4)), 2, "BF16"),
    # One key/value head, three shards, F16.
    (v5_rope(llama_config(num_key_value_heads=1)), 3, "F16"),
], ids=["untied-gqa-f32", "mha-v5-sharded-bf16", "mqa-v5-f16"])
def test_a_tiny_llama_folder_matches_the_numpy_llama(tmp_path, config,
                                                     shards, dtype):
    folder = str(tmp_path / "llama")
    stored = write_hf_folder(folder, config, llama_weights(config), shards,
                             dtype)
    if dtype != "F32":  # the files hold the weights rounded
        assert not np.array_equal(
            stored["model.norm.weight"],
            llama_weights(config)["model.norm.weight"])
    assert len([name for name in os.listdir(folder)
                if name.endswith(".safetensors")]) == shards
    run = load_pretrained(folder)
    assert run.model.rotary_max_wavelength == 500.0
    assert run.model.tie_embeddings == config["tie_word_embeddings"]
    ids = token_ids()
    expected = llama_reference.forward(
        stored, ids, {**config, "rope_theta": 500.0})
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(run.model(ids)), expected, atol=1e-4,
        rtol=1e-4)
    assert run.settings["special_tokens"] == {"bos": "<|im_start|>",
                                              "eos": "<|im_end|>"}
    assert run.chat_template == CHATML_TEMPLATE


def test_tie_word_embeddings_defaults_as_in_transformers(tmp_path):
    # LlamaConfig's default is False: an lm_head.weight is then used...
    config = llama_config(tie_word_embeddings=False)
    weights = llama_weights(config)
    del config["tie_word_embeddings"]
    write_hf_folder(str(tmp_path / "untied"), config, weights)
    assert not read_hf_folder(str(tmp_path / "untied")).arguments[
        "tie_embeddings"]
    # ... and without one, the embeddings serve as the output layer.
    del weights["lm_head.weight"]
    write_hf_folder(str(tmp_path / "tied"), config, weights)
    assert read_hf_folder(str(tmp_path / "tied")).arguments["tie_embeddings"]


def test_the_chat_template_file_wins_over_the_tokenizer_config(tmp_path):
    config = llama_config()
    folder = str(tmp_path / "llama")
    write_hf_folder(folder, config, llama_weights(config),
                    chat_template="{{ 'old' }}")
    with open(os.path.join(folder, "chat_template.jinja"), "w") as f:
        f.write(CHATML_TEMPLATE)
    assert read_hf_folder(folder).chat_template == CHATML_TEMPLATE


def test_named_chat_templates_give_the_default_one(tmp_path):
    config = llama_config()
    folder = str(tmp_path / "llama")
    write_hf_folder(folder, config, llama_weights(config), chat_template=[
        {"name": "tool_use", "template": "{{ 'tools' }}"},
        {"name": "default", "template": CHATML_TEMPLATE}])
    assert read_hf_folder(folder).chat_template == CHATML_TEMPLATE


def test_tfzoos_gelu_is_gpt2s_gelu_new():
    x = np.linspace(-6, 6, 101)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(gelu_approximate(x.astype(np.float32))),
        gpt2_reference.gelu_new(x), atol=1e-6)


@pytest.mark.parametrize("prefixed", [True, False],
                         ids=["transformer-names", "bare-names"])
def test_a_tiny_gpt2_folder_matches_the_numpy_gpt2(tmp_path, prefixed):
    config = gpt2_config()
    weights = gpt2_weights(config)
    if not prefixed:  # as the gpt2 repository on the Hub names them
        weights = {name.removeprefix("transformer."): value
                   for name, value in weights.items()}
    folder = str(tmp_path / "gpt2")
    write_hf_folder(folder, config, weights, chat_template=None)
    run = load_pretrained(folder)
    assert run.settings["architecture"] == "gpt2"
    assert run.chat_template is None
    assert (run.model.max_sequence_length, run.model.positional_embedding,
            run.model.tie_embeddings) == (32, "learned", True)
    ids = token_ids(length=32)
    expected = gpt2_reference.forward(gpt2_weights(config), ids, config)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(run.model(ids)), expected, atol=1e-4,
        rtol=1e-4)
    # A shorter max sequence length keeps the first positions.
    short = load_pretrained(folder, max_sequence_length=16)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(short.model(ids[:, :16])),
        expected[:, :16], atol=1e-4, rtol=1e-4)


def test_read_safetensors_reads_bfloat16_exactly(tmp_path):
    config = llama_config()
    folder = str(tmp_path / "llama")
    stored = write_hf_folder(folder, config, llama_weights(config),
                             dtype="BF16")
    read = read_safetensors(os.path.join(folder, "model.safetensors"))
    assert sorted(read) == sorted(stored)
    for name, value in read.items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, stored[name])
    with open(os.path.join(folder, "config.json")) as f:
        assert json.load(f)["rope_theta"] == 500.0
