"""The `tfzoo` command end to end, on a small text in a temporary folder."""

import csv
import json
import os
import subprocess
import sys

import keras
import pytest

from tfzoo.cli import main

# Small and quick: gpt-tiny's shape with a short context.
QUICK = ["--max-sequence-length", "32", "--batch-size", "8", "--sample-every",
         "0"]


class Crash(Exception):
    pass


class CrashAtStep(keras.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            raise Crash(f"simulated crash at step {self.step}")


def tensorboard_tags(folder):
    import tensorflow as tf

    tags = set()
    for name in os.listdir(folder):
        for event in tf.compat.v1.train.summary_iterator(
                os.path.join(folder, name)):
            tags.update(value.tag for value in event.summary.value)
    return tags


def has_graph(folder):
    """Whether TensorBoard's Graphs tab has something in `folder`."""
    import tensorflow as tf

    return any(
        event.HasField("graph_def")
        for name in os.listdir(folder)
        for event in tf.compat.v1.train.summary_iterator(
            os.path.join(folder, name)))


def history_rows(run):
    with open(os.path.join(run, "logs", "history.csv")) as f:
        return list(csv.DictReader(f))


def test_train_then_eval(tmp_path, text_file, capsys):
    run = str(tmp_path / "runs" / "gpt")
    assert main(["train", "--model", "gpt", "--preset", "gpt-tiny", "--data",
                 text_file, "--steps", "30", "--steps-per-epoch", "15",
                 "--out", run, *QUICK]) == 0
    out = capsys.readouterr().out
    assert "2 epochs x 15 steps of 8 x 32 tokens" in out
    assert "A sample:" in out
    for name in ("model.keras", "run.json", "tokenizer.json",
                 "checkpoints/epoch_001.keras", "checkpoints/epoch_002.keras"):
        assert os.path.isfile(os.path.join(run, name)), name
    assert not os.path.exists(os.path.join(run, "backup"))
    rows = history_rows(run)
    assert [row["epoch"] for row in rows] == ["0", "1"]
    assert float(rows[1]["val_loss"]) < float(rows[0]["val_loss"]) < 4.0
    assert {"perplexity", "val_perplexity", "val_bits_per_character"} <= set(
        rows[0])
    logs = os.path.join(run, "logs")
    assert {"epoch_loss", "epoch_perplexity", "epoch_learning_rate",
            "epoch_bits_per_character"} <= tensorboard_tags(
                os.path.join(logs, "train"))
    assert {"epoch_loss", "epoch_perplexity"} <= tensorboard_tags(
        os.path.join(logs, "validation"))
    assert "sample" in tensorboard_tags(os.path.join(logs, "samples"))
    assert has_graph(os.path.join(logs, "train"))

    # Non-overlapping windows, as validation reads them (eval also scores
    # the text's last partial window, which validation leaves out).
    assert main(["eval", "--run", run, "--stride", "32"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("the validation text of ")
    assert "bits/character" in lines[1] and "nats/word" in lines[2]
    loss = float(lines[1].split()[1])
    assert loss == pytest.approx(float(rows[1]["val_loss"]), rel=2e-2)
    # Overlapping windows by default: every token sees 16 tokens or more.
    assert main(["eval", "--run", run]) == 0
    default = capsys.readouterr().out.strip().splitlines()
    assert default[0] == lines[0] and default[1] != lines[1]

    # The same command again: the run is complete, nothing changes.
    before = os.path.getmtime(os.path.join(run, "model.keras"))
    assert main(["train", "--model", "gpt", "--preset", "gpt-tiny", "--data",
                 text_file, "--steps", "30", "--steps-per-epoch", "15",
                 "--out", run, *QUICK]) == 0
    out = capsys.readouterr().out
    assert "already complete" in out and "Model saved" not in out
    assert f"The model is in {run}/model.keras; generate with:" in out
    assert os.path.getmtime(os.path.join(run, "model.keras")) == before


def test_lstm_with_subword_tokenizer(tmp_path, text_file, capsys):
    run = str(tmp_path / "lstm")
    assert main(["train", "--model", "lstm", "--data", text_file,
                 "--tokenizer", "subword", "--vocab-size", "300", "--epochs",
                 "1", "--steps-per-epoch", "10", "--no-xla", "--out", run,
                 *QUICK]) == 0
    assert os.path.isfile(os.path.join(run, "tokenizer.spm"))
    assert main(["eval", "--run", run, "--split", "train"]) == 0
    out = capsys.readouterr().out
    assert "\nthe train text of " in out and "nats/word" in out


@pytest.mark.slow  # about 30 s; bench/word_level.py runs the recipe
def test_gpt_on_subwords_trains_the_subword_recipe(tmp_path, text_file,
                                                   capsys):
    run = str(tmp_path / "gpt")
    assert main(["train", "--data", text_file, "--tokenizer", "subword",
                 "--vocab-size", "300", "--steps", "4", "--no-xla",
                 "--out", run, *QUICK]) == 0
    with open(os.path.join(run, "run.json")) as f:
        settings = json.load(f)
    assert (settings["preset"], settings["optimizer"],
            settings["learning_rate"]) == ("gpt-subword", "muon", 1e-2)
    assert "gpt-subword: " in capsys.readouterr().out
    assert main(["generate", "--run", run, "The", "--max-new-tokens", "5",
                 "--seed", "1"]) == 0


@pytest.mark.slow  # about 35 s; old runs: tests/runs/test_loader.py
def test_a_run_started_before_the_subword_default_changed_resumes(
        tmp_path, text_file, capsys):
    # A subword run started without --preset when the default was gpt-tiny:
    # the same command, rerun, finds the run's own preset and resumes it.
    from tfzoo.tasks import make_settings, train

    run = str(tmp_path / "old")
    settings = make_settings("gpt", "gpt-tiny", data=text_file,
                             tokenizer="subword", vocabulary_size=300,
                             epochs=2, steps_per_epoch=3, batch_size=8,
                             max_sequence_length=32, optimizer="adamw",
                             jit_compile=False)
    with pytest.raises(Crash):
        train(settings, run, sample_every=0, callbacks=[CrashAtStep(4)])
    capsys.readouterr()
    assert main(["train", "--data", text_file, "--tokenizer", "subword",
                 "--vocab-size", "300", "--epochs", "2",
                 "--steps-per-epoch", "3", "--batch-size", "8",
                 "--max-sequence-length", "32", "--no-xla",
                 "--sample-every", "0", "--out", run]) == 0
    assert f"Resuming {run} at epoch 2." in capsys.readouterr().out


@pytest.mark.slow  # about 35 s; tests/training/test_kill_anywhere.py
def test_resume_after_a_crash(tmp_path, text_file, capsys):
    from tfzoo.tasks import make_settings, train

    run = str(tmp_path / "run")
    arguments = ["train", "--data", text_file, "--epochs", "3",
                 "--steps-per-epoch", "6", "--no-xla", "--out", run, *QUICK]
    settings = make_settings(data=text_file, epochs=3, steps_per_epoch=6,
                             max_sequence_length=32, batch_size=8,
                             jit_compile=False)
    with pytest.raises(Crash):
        train(settings, run, sample_every=0,
              callbacks=[CrashAtStep(14)])  # in the third epoch
    assert os.path.isfile(os.path.join(run, "backup",
                                       "epoch_002.weights.h5"))
    assert not os.path.exists(os.path.join(run, "model.keras"))
    checkpoint = os.path.join(run, "checkpoints", "epoch_001.keras")
    first_checkpoint_time = os.path.getmtime(checkpoint)

    assert main(arguments) == 0
    assert f"Resuming {run} at epoch 3." in capsys.readouterr().out
    rows = history_rows(run)
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    assert os.path.getmtime(checkpoint) == first_checkpoint_time
    model = keras.saving.load_model(os.path.join(run, "model.keras"))
    assert int(model.optimizer.iterations.numpy()) == 18


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--data", "no/such/file.txt"], "no such file or folder"),
        (["--data", "EMPTY"], "holds no text"),
        (["--data", "SHORT"], "fewer than one window"),
        (["--data", "LATIN1"], "not UTF-8"),
        (["--data", "TEXT", "--tokenizer", "subword", "--vocab-size", "10"],
         "cannot build a subword vocabulary of 10 pieces"),
        (["--data", "TEXT", "--preset", "gpt-huge"], "unknown preset"),
        (["--data", "TEXT", "--model", "lstm", "--preset", "gpt-tiny"],
         "is a gpt model"),
        (["--data", "TEXT", "--model", "lstm-classifier", "--optimizer",
          "muon"], "--optimizer is for --model gpt or lstm"),
    ],
)
def test_bad_input_gives_one_line_error(tmp_path, text_file, capsys,
                                        arguments, message):
    files = {"EMPTY": b"", "SHORT": b"Too short.\n" * 5,
             "LATIN1": "caf\u00e9 ".encode("latin-1") * 100,
             "TEXT": open(text_file, "rb").read()}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    arguments = [str(tmp_path / a) if a in files else a for a in arguments]
    run = tmp_path / "run"
    assert main(["train", *arguments, "--out", str(run), "--steps", "1",
                 *QUICK]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("tfzoo: error: ") and message in error
    assert len(error.splitlines()) == 1
    # Refused before the first write: no run folder is left behind, so the
    # corrected command is not refused as "a different run".
    assert not run.exists()


@pytest.mark.slow  # about 40 s; Muon's own tests are in tests/training
def test_train_with_muon(tmp_path, text_file):
    run = str(tmp_path / "muon")
    assert main(["train", "--data", text_file, "--optimizer", "muon",
                 "--epochs", "2", "--steps-per-epoch", "8", "--no-xla",
                 "--out", run, *QUICK]) == 0
    with open(os.path.join(run, "run.json")) as f:
        assert json.load(f)["optimizer"] == "muon"
    model = keras.saving.load_model(os.path.join(run, "model.keras"))
    assert type(model.optimizer).__name__ == "Muon"
    first, last = history_rows(run)
    assert float(last["val_loss"]) < float(first["val_loss"])


def test_a_different_run_is_not_overwritten(tmp_path, text_file, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text('{"model": "lstm"}')
    (run / "model.keras").write_text("precious")
    assert main(["train", "--data", text_file, "--out", str(run), "--steps",
                 "1", *QUICK]) == 1
    assert "holds a different run" in capsys.readouterr().err
    assert (run / "model.keras").read_text() == "precious"


def test_console_script_reports_errors_and_help(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    tfzoo = [sys.executable, "-m", "tfzoo.cli"]
    result = subprocess.run([*tfzoo, "train", "--model", "transformer",
                             "--data", "x", "--out", str(tmp_path)],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "invalid choice: 'transformer'" in result.stderr
    result = subprocess.run([*tfzoo, "eval", "--run", str(tmp_path)],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "not a tfzoo run folder" in result.stderr
    result = subprocess.run([*tfzoo, "train", "--help"], capture_output=True,
                            text=True, env=env)
    assert result.returncode == 0 and "--preset" in result.stdout


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A run folder with an untrained small GPT and a character tokenizer."""
    from tfzoo.models import TransformerLM
    from tfzoo.text import CharTokenizer

    from tests.conftest import make_run, make_text

    keras.utils.set_random_seed(0)
    tokenizer = CharTokenizer.from_text(make_text())
    model = TransformerLM(tokenizer.vocabulary_size(), 32, num_layers=1,
                          num_heads=2, hidden_dim=16)
    return make_run(tmp_path_factory.mktemp("cli") / "run", model, tokenizer)


def test_generate_prints_each_prompt_with_its_continuation(small_run, capsys):
    assert main(["generate", "--run", small_run, "The king", "Stars",
                 "--max-new-tokens", "12", "--seed", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    texts = [line for line in out if not line.startswith("---")]
    assert texts[0].startswith("The king") and texts[1].startswith("Stars")
    assert len(out) >= 3  # a separator between the texts


def test_generate_imports_no_matplotlib(small_run):
    from tests.conftest import imports_of_command

    imported, out = imports_of_command(["generate", "--run", small_run,
                                        "--max-new-tokens", "3", "the"])
    assert imported == [] and out.startswith("the")


def test_generate_greedy_is_repeatable_and_reports_cut_prompts(small_run,
                                                              capsys):
    long_prompt = "The king and queen " * 5
    for _ in range(2):
        assert main(["generate", "--run", small_run, long_prompt,
                     "--max-new-tokens", "10", "--temperature", "0"]) == 0
    captured = capsys.readouterr()
    outputs = [line for line in captured.out.splitlines() if line]
    assert outputs[0] == outputs[1]
    assert captured.out.count(long_prompt) == 2
    assert "prompt 1 has 95 tokens; the model saw its last 32" in captured.err


def test_generate_takes_bytes_that_are_not_utf8(small_run, capsys):
    assert main(["generate", "--run", small_run, "The \udcff king",
                 "--max-new-tokens", "5"]) == 0
    assert "The \ufffd king" in capsys.readouterr().out


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["", "--max-new-tokens", "5"], "prompt 1 is empty"),
        (["The", "--top-p", "0"], "top_p must be in (0, 1]"),
        (["The", "--top-p", "1.5"], "top_p must be in (0, 1]"),
        (["The", "--end-token", "ab"], "--end-token must be one token"),
    ],
)
def test_generate_bad_input_is_one_line_error(small_run, capsys, arguments,
                                             message):
    assert main(["generate", "--run", small_run, *arguments]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("tfzoo: error: ") and message in err
    assert len(err.splitlines()) == 1


def test_export_writes_next_version_and_refuses_bad_names(small_run, tmp_path,
                                                          capsys):
    base = str(tmp_path / "saved_models")
    for version in ("1", "2"):
        assert main(["export", "--run", small_run, "--name", "tiny",
                     "--base-dir", base, "--no-xla"]) == 0
        assert capsys.readouterr().out.strip().startswith(
            f"Exported {small_run} to {os.path.join(base, 'tiny', version)};")
    assert main(["export", "--run", small_run, "--name", "../up",
                 "--base-dir", base]) == 1
    assert "invalid model name" in capsys.readouterr().err
    open(os.path.join(base, "file"), "w").close()
    assert main(["export", "--run", small_run, "--name", "file",
                 "--base-dir", base]) == 1
    assert "is not a folder" in capsys.readouterr().err
    assert main(["export", "--run", str(tmp_path / "nothing"), "--name", "x",
                 "--base-dir", base]) == 1
    assert "not a tfzoo run folder" in capsys.readouterr().err
    assert sorted(os.listdir(base)) == ["batching.config", "file",
                                        "models.config", "tiny"]
    assert sorted(os.listdir(os.path.join(base, "tiny"))) == ["1", "2"]


@pytest.mark.slow  # about 45 s; --val's checks: tests/cli
def test_val_file_trains_and_evaluates_on_whole_files(tmp_path, small_text,
                                                      capsys):
    import numpy as np

    import tfzoo
    from tfzoo.runs.loader import load_run

    (tmp_path / "train.txt").write_text(small_text[:12000])
    valid = small_text[-3000:]
    (tmp_path / "valid.txt").write_text(valid)
    run = str(tmp_path / "run")
    # A separate process: --deterministic turns op determinism on for good.
    result = subprocess.run(
        [sys.executable, "-m", "tfzoo.cli", "train", "--data",
         str(tmp_path / "train.txt"), "--val", str(tmp_path / "valid.txt"),
         "--steps", "4", "--deterministic", "--out", run, *QUICK],
        capture_output=True, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    # The banner says what runs: Keras turns XLA off under determinism.
    assert "XLA off (--deterministic)" in result.stdout
    assert "jit_compile" not in result.stderr
    # No native chatter at TF_CPP_MIN_LOG_LEVEL=3 (cudart, absl).
    assert "cuda" not in result.stderr and "absl" not in result.stderr
    assert "bits_per_character: " in result.stdout  # in the progress bar
    with open(os.path.join(run, "run.json")) as f:
        settings = json.load(f)
    assert settings["validation_data"] == str(tmp_path / "valid.txt")
    assert settings["validation_fraction"] is None
    assert "12,000 training and 3,000 validation tokens" in result.stdout

    # eval scores the whole validation file: every character but the
    # first, as the exported score signature does.
    assert main(["eval", "--run", run]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f"the whole of {tmp_path / 'valid.txt'}: 2,999 "
                        f"tokens scored, {len(valid.split()) + valid.count(chr(10)):,} words")
    loaded = load_run(run)
    scored = tfzoo.score(loaded.model, loaded.tokenizer, [valid])
    loss = float(lines[1].split()[1])
    assert loss == pytest.approx(
        -scored["log_likelihood"][0] / scored["token_count"][0], abs=1e-4)
    # Any file, scored whole; a --split makes no sense for it.
    assert main(["eval", "--run", run, "--data",
                 str(tmp_path / "train.txt")]) == 0
    assert "11,999 tokens scored" in capsys.readouterr().out
    assert main(["eval", "--run", run, "--data", str(tmp_path / "train.txt"),
                 "--split", "train"]) == 1
    assert "is scored whole" in capsys.readouterr().err
    assert np.isfinite(loss)


def test_argument_errors_answer_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tfzoo.cli", "train", "--steps", "0",
         "--data", "x", "--out", str(tmp_path / "run")],
        capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == ("tfzoo train: error: argument --steps: must be "
                             "at least 1, got 0 (see tfzoo train --help)\n")
    assert not (tmp_path / "run").exists()
