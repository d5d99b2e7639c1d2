"""`tfzoo import` then `tfzoo export` of a tiny llama chat model: the
`chat` signature applies the chat template in the graph and answers as
`tfzoo.chat` does; replies end at the end of turn; the export's max
sequence length is chosen at export."""

import os

import pytest
import tensorflow as tf

from tests.models.tiny_checkpoints import (llama_config, llama_weights,
                                           write_llama_gguf)
from tfzoo.cli import main

pytest.importorskip("gguf")

CONVERSATIONS = [
    [{"role": "user", "content": "the king"}],
    [{"role": "user", "content": "and you"},
     {"role": "assistant", "content": "the queen"},
     {"role": "user", "content": "shall rise\nabove"}],
]
GREEDY = {"temperature": tf.constant(0.0), "top_k": tf.constant(0),
          "top_p": tf.constant(1.0), "seed": tf.constant(0, tf.int64)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny llama GGUF imported by `tfzoo import` and exported by
    `tfzoo export`."""
    folder = tmp_path_factory.mktemp("chat-export")
    config = llama_config(max_position_embeddings=256)
    path = str(folder / "tiny.gguf")
    write_llama_gguf(path, config, llama_weights(config))
    run_dir = str(folder / "runs" / "tiny")
    assert main(["import", path, "--out", run_dir]) == 0
    base_dir = str(folder / "saved")
    assert main(["export", "--run", run_dir, "--name", "tiny", "--base-dir",
                 base_dir]) == 0
    return run_dir, os.path.join(base_dir, "tiny", "1")


def chat_inputs(conversations, system=""):
    turns = max(len(c) for c in conversations)
    roles = [[m["role"] for m in c] + [""] * (turns - len(c))
             for c in conversations]
    contents = [[m["content"] for m in c] + [""] * (turns - len(c))
                for c in conversations]
    return {"role": tf.constant(roles), "content": tf.constant(contents),
            "system": tf.constant(system)}


def test_the_chat_signature_answers_as_tfzoo_chat(exported):
    import tfzoo

    run_dir, path = exported
    run = tfzoo.load_run(run_dir)
    served = tf.saved_model.load(path)
    assert sorted(served.signatures) == ["chat", "score", "serving_default"]
    for system in ("", "Be brief."):
        replies = served.signatures["chat"](
            **chat_inputs(CONVERSATIONS, system),
            max_new_tokens=tf.constant(12), **GREEDY)["reply"].numpy()
        expected = [tfzoo.chat(run, c, max_new_tokens=12,
                               system=system or None)
                    for c in CONVERSATIONS]
        assert [r.decode("utf-8") for r in replies] == expected


def test_cli_chat_keeps_the_conversation_until_reset(exported, monkeypatch,
                                                    capsys):
    import io

    import tfzoo

    run_dir, _ = exported
    run = tfzoo.load_run(run_dir)
    first = tfzoo.chat(run, "the king", max_new_tokens=8)
    second = tfzoo.chat(run, [
        {"role": "user", "content": "the king"},
        {"role": "assistant", "content": first},
        {"role": "user", "content": "and you"}], max_new_tokens=8)
    monkeypatch.setattr("sys.stdin", io.StringIO(
        "the king\nand you\n/reset\nthe king\n"))
    assert main(["chat", "--run", run_dir, "--temperature", "0",
                 "--max-new-tokens", "8"]) == 0
    assert capsys.readouterr().out == (
        f"{first}\n{second}\n(a new conversation)\n{first}\n")


def test_cli_generate_chat_prints_the_reply(exported, capsys):
    import tfzoo

    run_dir, _ = exported
    expected = tfzoo.chat(tfzoo.load_run(run_dir), "and you",
                          max_new_tokens=8)
    assert main(["generate", "--run", run_dir, "--chat", "--temperature",
                 "0", "--max-new-tokens", "8", "and you"]) == 0
    assert capsys.readouterr().out == expected + "\n"


def test_a_chat_model_serves_replies_that_end_at_the_end_of_turn(exported):
    import tfzoo
    from tfzoo.tasks import language_model

    run = tfzoo.load_run(exported[0])
    end = run.tokenizer.token_to_id("<|im_end|>")
    assert language_model.server(run).end_token_id == end
    assert language_model.server(run, end_token_id=5).end_token_id == 5


def test_the_max_sequence_length_is_chosen_at_export(exported, tmp_path):
    import tfzoo
    from tfzoo.tasks import language_model

    base_dir = str(tmp_path / "saved")
    assert main(["export", "--run", exported[0], "--name", "tiny",
                 "--base-dir", base_dir, "--max-sequence-length", "48"]) == 0
    run = tfzoo.load_run(exported[0])
    assert run.model.max_sequence_length == 256
    assert language_model.server(run).max_sequence_length == 256
    assert language_model.server(
        run, max_sequence_length=48).max_sequence_length == 48
    served = tf.saved_model.load(os.path.join(base_dir, "tiny", "1"))
    text = served.signatures["serving_default"](
        prompt=tf.constant(["the king"]), max_new_tokens=tf.constant(8),
        **GREEDY)["text"].numpy()[0].decode("utf-8")
    end = run.tokenizer.token_to_id("<|im_end|>")
    assert text == tfzoo.generate(run.model, run.tokenizer, "the king",
                                  max_new_tokens=8, temperature=0,
                                  end_token_id=end)


@pytest.mark.parametrize("arguments, message", [
    (["--max-sequence-length", "100000"], "must be from 2 to the run's"),
])
def test_export_refuses_a_length_above_the_run(exported, tmp_path, capsys,
                                                arguments, message):
    run_dir, _ = exported
    base_dir = str(tmp_path / "saved")
    assert main(["export", "--run", run_dir, "--name", "tiny", "--base-dir",
                 base_dir, *arguments]) == 1
    assert message in capsys.readouterr().err
    assert not os.path.exists(os.path.join(base_dir, "tiny", "1"))
