"""`tfzoo train --model ngram`, then eval and generate, end to end."""

import json
import os
import warnings

import numpy as np
import pytest

from tfzoo.cli import main


def test_train_eval_generate(tmp_path, text_file, capsys):
    run = str(tmp_path / "5gram")
    assert main(["train", "--model", "ngram", "--order", "5", "--data",
                 text_file, "--out", run]) == 0
    out = capsys.readouterr().out
    assert out.startswith("5-gram model, kneser_ney: ")
    for name in ("run.json", "tokenizer.json", "ngram.json", "ngram.npz",
                 "logs/history.csv"):
        assert os.path.isfile(os.path.join(run, name)), name
    with open(os.path.join(run, "run.json")) as f:
        settings = json.load(f)
    assert settings["task"] == "language_model" and settings["order"] == 5
    validation_loss = float(out.split("validation loss ")[1].split()[0])

    # eval scores the same split as the neural models, with the same rule.
    assert main(["eval", "--run", run]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("the validation text of ")
    assert float(lines[1].split()[1]) == pytest.approx(validation_loss,
                                                       abs=1e-4)
    assert "bits/character" in lines[1] and "nats/word" in lines[2]

    # generate: seeded sampling repeats, greedy ignores the seed; no
    # token has probability 0 (its log would warn).
    warnings.simplefilter("error", RuntimeWarning)
    texts = []
    for seed in ("1", "1", "2"):
        assert main(["generate", "--run", run, "The king", "--seed", seed,
                     "--max-new-tokens", "40", "--top-k", "5"]) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1] != texts[2]
    assert texts[0].startswith("The king") and len(texts[0]) > 40
    assert main(["generate", "--run", run, "The king", "--temperature", "0",
                 "--max-new-tokens", "20"]) == 0
    assert len(capsys.readouterr().out.strip()) == len("The king") + 20

    # The same command again: complete, untouched.
    before = os.path.getmtime(os.path.join(run, "ngram.npz"))
    assert main(["train", "--model", "ngram", "--order", "5", "--data",
                 text_file, "--out", run]) == 0
    assert "already complete" in capsys.readouterr().out
    assert os.path.getmtime(os.path.join(run, "ngram.npz")) == before
    # Not exported: an n-gram run is scored and sampled in Python.
    assert main(["export", "--run", run, "--name", "ngram",
                 "--base-dir", str(tmp_path / "sm")]) == 1
    assert "is an n-gram run" in capsys.readouterr().err
    assert not (tmp_path / "sm").exists()


def test_subword_ngram_and_add_k(tmp_path, text_file, capsys):
    run = str(tmp_path / "subword")
    assert main(["train", "--model", "ngram", "--order", "3",
                 "--tokenizer", "subword", "--vocab-size", "300",
                 "--smoothing", "add_k", "--add-k", "0.1", "--data",
                 text_file, "--out", run]) == 0
    assert os.path.isfile(os.path.join(run, "tokenizer.spm"))
    assert "3-gram model, add_k: " in capsys.readouterr().out
    assert main(["eval", "--run", run]) == 0
    loss = float(capsys.readouterr().out.splitlines()[1].split()[1])
    assert np.isfinite(loss) and 0 < loss < np.log(300)


@pytest.mark.parametrize("arguments, message", [
    (["--steps", "10"], "it takes no --steps"),
    (["--preset", "gpt-tiny"], "it takes no --preset"),
    (["--smoothing", "add_k", "--add-k", "0"], "k must be above 0"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, text_file,
                                                  capsys, arguments,
                                                  message):
    run = tmp_path / "run"
    assert main(["train", "--model", "ngram", "--data", text_file, "--out",
                 str(run), *arguments]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("tfzoo: error: ") and message in error
    assert len(error.splitlines()) == 1 and not run.exists()
