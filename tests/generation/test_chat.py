"""Chat with the real SmolLM2-135M-Instruct: `tfzoo import`, `tfzoo.chat`,
`stream_reply`, `tfzoo chat` and `tfzoo generate --chat`.

Slow (about 3 minutes: SmolLM2 is imported and compiled); the default run
chats with a tiny llama in tests/serving/test_chat_export.py."""

import json
import os

import pytest

from tests.conftest import smollm2_gguf
from tfzoo.cli import main

QUESTION = "What is the capital of France? Answer in one sentence."
ANSWER = "The capital of France is Paris."

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """SmolLM2 imported once for the module, with a short context."""
    out = str(tmp_path_factory.mktemp("chat") / "smollm2")
    assert main(["import", smollm2_gguf(), "--out", out,
                 "--max-sequence-length", "256"]) == 0
    return out


@pytest.fixture(scope="module")
def run(run_dir):
    import tfzoo

    return tfzoo.load_run(run_dir)


def test_import_writes_an_ordinary_run_folder(run_dir):
    with open(os.path.join(run_dir, "run.json")) as f:
        settings = json.load(f)
    assert settings["task"] == "language_model"
    assert settings["architecture"] == "llama"
    assert settings["source"] == smollm2_gguf()
    assert settings["max_sequence_length"] == 256
    assert settings["context_length"] == 8192
    assert settings["special_tokens"]["eos"] == "<|im_end|>"
    assert sorted(os.listdir(run_dir)) == [
        "chat_template.jinja", "merges.json", "model.keras", "run.json",
        "tokenizer.json", "vocabulary.json"]


def test_greedy_chat_answers_like_the_reference(run):
    import tfzoo

    assert tfzoo.chat(run, QUESTION, max_new_tokens=30) == ANSWER


def test_the_streamed_reply_is_the_whole_reply(run):
    import tfzoo
    from tfzoo.generation.chat import stream_reply

    messages = [{"role": "user", "content": "Name three colours."}]
    pieces = list(stream_reply(run, messages, max_new_tokens=24))
    assert len(pieces) > 3
    assert "".join(pieces) == tfzoo.chat(run, messages, max_new_tokens=24)
    assert "<|im_end|>" not in "".join(pieces)


def test_a_conversation_keeps_its_turns_and_system_prompt(run):
    from tfzoo.generation.chat import chat_prompt

    messages = [{"role": "user", "content": QUESTION},
                {"role": "assistant", "content": ANSWER},
                {"role": "user", "content": "And of Germany?"}]
    prompt = chat_prompt(run, messages, system="Be brief.")
    assert prompt.startswith("<|im_start|>system\nBe brief.<|im_end|>\n")
    assert prompt.endswith("<|im_start|>user\nAnd of Germany?<|im_end|>\n"
                           "<|im_start|>assistant\n")
    default = chat_prompt(run, messages[:1])
    assert "named SmolLM" in default


def test_cli_chat_reads_turns_and_resets(run_dir, monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(
        f"{QUESTION}\nAnd of Germany?\n/reset\nAnd of Germany?\n"))
    assert main(["chat", "--run", run_dir, "--temperature", "0",
                 "--max-new-tokens", "30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ANSWER
    assert "Berlin" in lines[1]
    assert lines[2] == "(a new conversation)"
    # Without the first turn, "And of Germany?" is another question.
    assert lines[3] != lines[1]


def test_cli_generate_chat_prints_the_reply(run_dir, capsys):
    assert main(["generate", "--run", run_dir, "--chat", "--temperature",
                 "0", "--max-new-tokens", "30", QUESTION]) == 0
    assert capsys.readouterr().out.strip() == ANSWER


@pytest.mark.parametrize("arguments, message", [
    (["--system", "Hi"], "--system applies with --chat only"),
    (["--chat", "--end-token", "x"], "leave out --end-token"),
])
def test_generate_refuses_chat_options_out_of_place(run_dir, capsys,
                                                    arguments, message):
    assert main(["generate", "--run", run_dir, *arguments, "Hello"]) == 1
    assert message in capsys.readouterr().err


def test_an_imported_run_needs_data_to_score(run_dir, capsys):
    assert main(["eval", "--run", run_dir]) == 1
    error = capsys.readouterr().err
    assert "has no data of its own" in error and "--data" in error
