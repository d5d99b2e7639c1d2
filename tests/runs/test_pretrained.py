"""`tfzoo.runs.pretrained`: tiny checkpoints written by the tests import
into run folders that load back with the same logits and generate;
bad sources and `--out` folders are refused in one line with nothing
written; SmolLM2's GGUF (where installed) answers a chat question."""

import json
import os

import keras
import numpy as np
import pytest

from tests.conftest import one_line_error, smollm2_gguf
from tests.models import llama_reference
from tests.models.tiny_checkpoints import (CHATML_TEMPLATE, VOCABULARY_SIZE,
                                           llama_config, llama_weights,
                                           token_ids, write_hf_folder,
                                           write_llama_gguf)
from tfzoo.generation.generate import generate
from tfzoo.runs.loader import load_run
from tfzoo.runs.pretrained import (import_pretrained, load_pretrained,
                                   resolve_source)
from tfzoo.text.chat_template import render

pytest.importorskip("gguf")


@pytest.fixture
def tiny_gguf(tmp_path):
    """A tiny llama GGUF file (Q8_0, untied) and the weights it holds."""
    config = llama_config(tie_word_embeddings=False)
    path = str(tmp_path / "tiny.gguf")
    stored = write_llama_gguf(path, config, llama_weights(config), "Q8_0")
    return path, config, stored


def logits(model, ids):
    return keras.ops.convert_to_numpy(model(ids))


def greedy_ids(weights, config, ids, steps):
    """The numpy Llama's greedy continuation of `ids` (one row)."""
    ids = list(ids)
    for _ in range(steps):
        ids.append(int(np.argmax(llama_reference.forward(
            weights, [ids], config)[0, -1])))
    return ids


def test_an_import_loads_back_with_equal_logits_and_generates(tmp_path,
                                                              tiny_gguf):
    path, config, stored = tiny_gguf
    run_dir = str(tmp_path / "runs" / "tiny")
    imported = import_pretrained(path, run_dir)
    assert sorted(os.listdir(tmp_path / "runs")) == ["tiny"]
    assert {"run.json", "tokenizer.json", "chat_template.jinja",
            "model.keras"} <= set(os.listdir(run_dir))
    run = load_run(run_dir)
    assert run.task == "language_model"
    assert run.settings["architecture"] == "llama"
    assert run.settings["source"] == path
    assert run.chat_template == CHATML_TEMPLATE
    assert run.tokenizer.vocabulary == imported.tokenizer.vocabulary
    ids = token_ids()
    np.testing.assert_array_equal(logits(run.model, ids),
                                  logits(imported.model, ids))
    np.testing.assert_allclose(
        logits(run.model, ids), llama_reference.forward(stored, ids, config),
        atol=1e-4, rtol=1e-4)
    prompt = "the king and you"
    prompt_ids = run.tokenizer.tokenize(prompt).numpy().tolist()
    expected = run.tokenizer.detokenize(
        greedy_ids(stored, config, prompt_ids, 4)[len(prompt_ids):])
    text = generate(run.model, run.tokenizer, [prompt], max_new_tokens=4,
                    temperature=0)
    assert text == [expected.numpy().decode("utf-8")]


def test_an_import_is_not_repeated_unless_overwritten(tmp_path, tiny_gguf):
    path = tiny_gguf[0]
    run_dir = str(tmp_path / "runs" / "tiny")
    import_pretrained(path, run_dir)
    with open(os.path.join(run_dir, "run.json")) as f:
        before = f.read()
    assert "already holds a run" in one_line_error(
        lambda: import_pretrained(path, run_dir))
    config = llama_config()
    folder = str(tmp_path / "hf")
    write_hf_folder(folder, config, llama_weights(config))
    # Another source into it: refused the same way, the folder left as
    # it was, before the source is read.
    assert "already holds a run" in one_line_error(
        lambda: import_pretrained(folder, run_dir))
    assert sorted(os.listdir(tmp_path / "runs")) == ["tiny"]
    with open(os.path.join(run_dir, "run.json")) as f:
        assert f.read() == before
    run = import_pretrained(folder, run_dir, overwrite=True)
    assert sorted(os.listdir(tmp_path / "runs")) == ["tiny"]
    assert load_run(run_dir).settings["source"] == folder
    assert run.settings["source"] == folder


def refused(source, tmp_path):
    """The one-line error of importing `source`, checking that nothing was
    written beside the run folder."""
    runs = tmp_path / "runs"
    runs.mkdir(exist_ok=True)
    before = sorted(os.listdir(runs))
    message = one_line_error(
        lambda: import_pretrained(str(source), str(runs / "new")))
    assert sorted(os.listdir(runs)) == before
    return message


def test_another_gguf_architecture_is_refused(tmp_path):
    config = llama_config()
    path = tmp_path / "falcon.gguf"
    write_llama_gguf(path, config, llama_weights(config),
                     architecture="falcon")
    message = refused(path, tmp_path)
    assert "architecture 'falcon' is not supported" in message
    assert "llama and gpt2" in message


@pytest.mark.parametrize("keep", [0.5, 0.98, 100],
                         ids=["half", "last-bytes", "header"])
def test_a_truncated_gguf_is_refused(tmp_path, tiny_gguf, keep):
    with open(tiny_gguf[0], "rb") as f:
        data = f.read()
    path = tmp_path / "cut.gguf"
    path.write_bytes(data[:int(keep * len(data)) if keep < 1 else keep])
    assert "is not a readable GGUF file" in refused(path, tmp_path)


@pytest.fixture
def tiny_folder(tmp_path):
    config = llama_config()
    folder = tmp_path / "hf"
    write_hf_folder(str(folder), config, llama_weights(config))
    return folder


def test_a_damaged_safetensors_file_is_refused(tmp_path, tiny_folder):
    weights = tiny_folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:len(data) // 2])
    assert "model.safetensors: tensor" in refused(tiny_folder, tmp_path)
    assert "cut short" in refused(tiny_folder, tmp_path)
    weights.write_bytes(data[:8] + b"{not json" + data[17:])
    assert "is not a readable safetensors file" in refused(tiny_folder,
                                                           tmp_path)
    weights.write_bytes(b"")
    assert "is not a readable safetensors file" in refused(tiny_folder,
                                                           tmp_path)


def test_folders_that_are_not_checkpoints_are_refused(tmp_path,
                                                      tiny_folder):
    (tiny_folder / "config.json").unlink()
    message = refused(tiny_folder, tmp_path)
    assert "has no config.json" in message and "GGUF" in message
    assert "no such file or folder" in refused(tmp_path / "nowhere",
                                               tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "is not a GGUF file" in refused(text, tmp_path)


def test_an_unsupported_model_type_is_refused(tmp_path, tiny_folder):
    config = llama_config(model_type="mistral")
    (tiny_folder / "config.json").write_text(json.dumps(config))
    message = refused(tiny_folder, tmp_path)
    assert "architecture 'mistral' is not supported" in message
    assert "llama and gpt2" in message


def test_a_missing_weight_is_refused(tmp_path):
    config = llama_config()
    weights = llama_weights(config)
    del weights["model.layers.1.mlp.up_proj.weight"]
    write_hf_folder(str(tmp_path / "hf"), config, weights)
    assert "has no weight model.layers.1.mlp.up_proj.weight" in refused(
        tmp_path / "hf", tmp_path)


@pytest.mark.parametrize("changes", [
    {"rope_scaling": {"rope_type": "llama3", "factor": 8.0}},
    {"rope_scaling": {"type": "linear", "factor": 2.0}},
    {"rope_parameters": {"rope_type": "yarn", "rope_theta": 500.0}},
], ids=["llama3", "linear-v4", "yarn-v5"])
def test_rotary_scaling_is_refused(tmp_path, changes):
    config = llama_config(**changes)
    write_hf_folder(str(tmp_path / "hf"), config, llama_weights(config))
    assert "rotary scaling" in refused(tmp_path / "hf", tmp_path)


def test_a_gguf_with_rotary_scaling_is_refused(tmp_path):
    config = llama_config()
    weights = llama_weights(config)
    weights["rope_freqs.weight"] = np.ones(8, np.float32)
    write_llama_gguf(tmp_path / "llama31.gguf", config, weights)
    assert "rotary scaling (rope_freqs)" in refused(
        tmp_path / "llama31.gguf", tmp_path)


def test_a_tokenizer_of_another_size_is_refused(tmp_path):
    config = llama_config(vocab_size=VOCABULARY_SIZE + 5)
    write_hf_folder(str(tmp_path / "hf"), config, llama_weights(config))
    message = refused(tmp_path / "hf", tmp_path)
    assert (f"the tokenizer has {VOCABULARY_SIZE} tokens, the model embeds "
            f"{VOCABULARY_SIZE + 5}") in message


def test_hf_names_offline_say_so_and_name_the_formats(tmp_path,
                                                      monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'.\n"
                      "Check your connection.")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    message = refused("hf://HuggingFaceTB/SmolLM2-135M-Instruct", tmp_path)
    assert "hf://HuggingFaceTB/SmolLM2-135M-Instruct cannot be downloaded" \
        in message
    assert "a GGUF file of the llama architecture" in message
    assert "a Hugging Face folder" in message


def test_resolve_source_tells_the_formats_apart(tmp_path, tiny_gguf,
                                                tiny_folder):
    assert resolve_source(tiny_gguf[0]) == ("gguf", tiny_gguf[0])
    assert resolve_source(str(tiny_folder)) == ("hf", str(tiny_folder))


@pytest.mark.slow  # about 45 s on 2 cores: dequantizing, XLA
def test_smollm2_answers_a_chat_question():
    run = load_pretrained(smollm2_gguf(), max_sequence_length=512)
    messages = [{"role": "user", "content": "What is the capital of France? "
                 "Answer in one sentence."}]
    prompt = render(run.chat_template, messages, True,
                    run.settings["special_tokens"])
    answer = generate(run.model, run.tokenizer, [prompt], max_new_tokens=20,
                      temperature=0, end_token_id=2)
    assert answer == ["The capital of France is Paris."]
