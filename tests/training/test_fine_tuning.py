"""`tfzoo train --init` (#30): full and LoRA fine-tuning of a pretrained
language model, chat data, merged export, and the refusals, on a tiny
random llama (`tests.conftest.make_pretrained_run`) rather than SmolLM2.
"""

import json
import os

import keras
import numpy as np
import pytest

from tests.conftest import CHATML_TEMPLATE, make_pretrained_run, make_text
from tests.training.test_distributed_training import history, run
from tfzoo.models import lora

# Two epochs of eight steps of tiny windows.
SCHEDULE = ["--deterministic", "--epochs", "3", "--steps-per-epoch", "8",
            "--batch-size", "4", "--max-sequence-length", "32",
            "--sample-every", "0"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_pretrained_run(tmp_path_factory.mktemp("base") / "base")


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "text.txt"
    path.write_text(make_text(3000), encoding="utf-8")
    return str(path)


def write_chat(path, count=40, user="Say {i} twice."):
    with open(path, "w", encoding="utf-8") as f:
        for i in range(count):
            f.write(json.dumps({"messages": [
                {"role": "user", "content": user.format(i=i)},
                {"role": "assistant", "content": f"{i} {i}"}]}) + "\n")
    return str(path)


def write_bad_chat(folder):
    """`write_chat`'s 40 lines with lines 3, 5 and 7 bad: invalid JSON, no
    messages, an unknown role."""
    lines = open(write_chat(folder / "chat.jsonl")).read().splitlines()
    for number, line in ((3, "{not json"), (5, '{"text": "hi"}'), (
            7, '{"messages": [{"role": "robot", "content": "x"}]}')):
        lines[number - 1] = line
    bad = folder / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    return str(bad)


def error_lines(result):
    """The lines of the refusal (TensorFlow may log lines of its own)."""
    return [line for line in result.stderr.splitlines()
            if line.startswith("tfzoo: error:")]


def adapters(run_dir):
    with np.load(os.path.join(run_dir, "adapters.npz")) as arrays:
        return {name: arrays[name] for name in arrays.files}


@pytest.mark.slow  # about 80 s; a killed run's resume: test_kill_anywhere.py
def test_lora_run_holds_adapters_and_resumes_bit_for_bit(base, text,
                                                           tmp_path):
    arguments = ["--init", base, "--lora-rank", "4", "--lora-targets",
                 "query,value,mlp", "--data", text, *SCHEDULE]
    whole = tmp_path / "whole"
    result = run("train", *arguments, "--out", str(whole))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trainable of" in result.stdout
    assert not (whole / "model.keras").exists()
    assert os.path.getsize(whole / "adapters.npz") < 200_000
    settings = json.loads((whole / "run.json").read_text())
    assert settings["init"] == base and settings["lora_rank"] == 4
    assert settings["lora_targets"] == ["query", "value", "mlp"]

    resumed = tmp_path / "resumed"  # killed writing epoch 2's backup
    result = run("train", *arguments, "--out", str(resumed),
                 env={"TFZOO_TEST_KILL_DURING": "backup:2"})
    assert result.returncode < 0
    result = run("train", *arguments, "--out", str(resumed))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Resuming {resumed} at epoch 2" in result.stdout
    assert history(resumed) == history(whole)
    for name, value in adapters(whole).items():
        np.testing.assert_array_equal(value, adapters(resumed)[name])


def test_a_lora_run_loads_adapted_and_exports_merged(base, text, tmp_path):
    from tfzoo.runs.loader import load_run

    out = tmp_path / "lora"
    result = run("train", "--init", base, "--lora-rank", "2", "--data", text,
                 *SCHEDULE, "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    run_ = load_run(str(out))
    assert lora.has_lora(run_.model)
    base_model = load_run(base).model
    ids = np.arange(1, 17, dtype="int32")[None]
    adapted = np.asarray(run_.model(ids))
    assert not np.allclose(adapted, np.asarray(base_model(ids)))
    merged = lora.merge(run_.model)
    assert not lora.has_lora(merged)
    assert merged.count_params() == base_model.count_params()
    np.testing.assert_allclose(np.asarray(merged(ids)), adapted, atol=1e-5)

    result = run("export", "--run", str(out), "--name", "tiny-lora",
                 "--base-dir", str(tmp_path / "models"), "--quantize",
                 "int8")
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow  # about 30 s; LoRA runs by default
def test_full_fine_tuning_trains_every_weight(base, text, tmp_path):
    out = tmp_path / "full"
    result = run("train", "--init", base, "--data", text, *SCHEDULE[:-2],
                 "--epochs", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "every weight" in result.stdout
    assert (out / "model.keras").exists()
    assert (out / "chat_template.jinja").read_text() == CHATML_TEMPLATE


def test_chat_loss_counts_the_assistant_tokens_only(base):
    from tfzoo.runs.loader import load_run
    from tfzoo.text.chat_template import training_pieces
    from tfzoo.text.encoding import encode_pieces

    tokenizer = load_run(base).tokenizer
    messages = [{"role": "user", "content": "Say the word."},
                {"role": "assistant", "content": "the"}]
    ids, weights = encode_pieces(tokenizer, training_pieces(
        CHATML_TEMPLATE, messages))
    text = tokenizer.detokenize(ids[weights == 1]).numpy().decode()
    assert text == "the<|im_end|>\n"
    # Every loss term of a user token is weighted 0: changing those
    # tokens (as targets) changes no term of the loss.
    loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight")
    logits = np.random.default_rng(0).normal(
        size=(1, len(ids), tokenizer.vocabulary_size())).astype("float32")
    changed = np.where(weights == 0, (ids + 7) % 100, ids)
    np.testing.assert_array_equal(
        loss(ids[None], logits, weights[None]),
        loss(changed[None], logits, weights[None]))


def test_chat_data_trains_and_names_bad_lines(base, tmp_path):
    chat = write_chat(tmp_path / "chat.jsonl")
    out = tmp_path / "chat"
    result = run("train", "--init", base, "--lora-rank", "2", "--data", chat,
                 *SCHEDULE[:-2], "--epochs", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "assistant tokens" in result.stdout

    bad = write_bad_chat(tmp_path)
    result = run("train", "--init", base, "--data", bad, *SCHEDULE,
                 "--out", str(tmp_path / "refused"))
    assert result.returncode != 0
    assert f"{bad}, line 3: invalid JSON" in result.stderr
    assert len(error_lines(result)) == 1, result.stderr
    assert not (tmp_path / "refused").exists()


@pytest.mark.slow  # about 25 s
def test_bad_chat_lines_can_be_skipped(base, tmp_path):
    result = run("train", "--init", base, "--data", write_bad_chat(tmp_path),
                 *SCHEDULE,
                 "--skip-bad-rows", "--epochs", "1",
                 "--out", str(tmp_path / "skipped"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "skipped 3 of 40 lines" in result.stderr


@pytest.mark.parametrize("arguments, message", [
    (["--lora-rank", "0"], "--lora-rank must be at least 1"),
    (["--lora-rank", "-2"], "--lora-rank must be at least 1"),
    (["--lora-rank", "2", "--lora-targets", "query,gate"],
     "unknown --lora-targets projection 'gate'"),
    (["--preset", "gpt-tiny"], "give no --preset"),
])
def test_bad_fine_tuning_options_refused(base, text, tmp_path, arguments,
                                          message):
    out = tmp_path / "out"
    result = run("train", "--init", base, "--data", text, *arguments,
                 "--out", str(out))
    assert result.returncode != 0
    assert message in result.stderr
    assert len(error_lines(result)) == 1, result.stderr
    assert not out.exists()


def test_lora_on_projections_the_model_lacks_refused():
    from tfzoo.models.transformer_lm import TransformerLM

    classic = TransformerLM(vocabulary_size=20, max_sequence_length=8,
                            num_layers=1, num_heads=2, hidden_dim=8)
    with pytest.raises(ValueError, match="no query projection"):
        lora.enable_lora(classic, 2, targets=["query"])


def test_init_at_a_classifier_run_refused(text, tmp_path):
    classifier = tmp_path / "classifier"
    classifier.mkdir()
    (classifier / "run.json").write_text(json.dumps(
        {"task": "classification", "model": "bert-classifier"}))
    out = tmp_path / "out"
    result = run("train", "--init", str(classifier), "--data", text,
                 "--out", str(out))
    assert result.returncode != 0
    assert "is a classification run (bert-classifier)" in result.stderr
    assert len(error_lines(result)) == 1, result.stderr
    assert not out.exists()


@pytest.mark.slow  # about 25 s; the other refusals of --init run by default
def test_a_base_with_another_tokenizer_is_refused_on_resume(text, tmp_path):
    base = make_pretrained_run(tmp_path / "base")
    arguments = ["--init", base, "--lora-rank", "2", "--data", text,
                 *SCHEDULE]
    out = tmp_path / "out"
    result = run("train", *arguments, "--out", str(out),
                 env={"TFZOO_TEST_KILL_DURING": "backup:2"})
    assert result.returncode < 0
    before = sorted(os.listdir(out))
    os.rename(base, tmp_path / "old-base")  # another base, the same path
    make_pretrained_run(base, merges=["Ġ t", "h e"])
    result = run("train", *arguments, "--out", str(out))
    assert result.returncode != 0
    assert "has another tokenizer than this run" in result.stderr
    assert len(error_lines(result)) == 1, result.stderr
    assert sorted(os.listdir(out)) == before
