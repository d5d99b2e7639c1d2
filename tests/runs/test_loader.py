"""One loader for every finished run, and runs written before it."""

import json
import os

import pytest

from tests.conftest import make_run
from tests.old_format import old_keras_file, old_run_json
from tfzoo.cli import main
from tfzoo.models import build_model
from tfzoo.text import CharTokenizer
from tfzoo.runs.loader import load_run

QUICK = ["--max-sequence-length", "32", "--batch-size", "8",
         "--sample-every", "0", "--no-xla"]


def test_unfinished_and_non_runs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not a tfzoo run folder"):
        load_run(str(tmp_path))
    (tmp_path / "run.json").write_text('{"task": "language_model"}')
    with pytest.raises(ValueError, match="no model.keras yet"):
        load_run(str(tmp_path))


def test_an_old_language_model_run_loads_generates_evaluates_and_exports(
        tmp_path, text_file, capsys):
    # Written as tfzoo wrote it before: no task, context_length, and a model
    # file with CausalSelfAttention layers.
    tokenizer = CharTokenizer.from_text(open(text_file).read())
    model = build_model("gpt-tiny", tokenizer.vocabulary_size(),
                        max_sequence_length=32, num_layers=1)
    run = make_run(tmp_path / "old", model, tokenizer)
    with open(os.path.join(run, "run.json"), "w") as f:
        json.dump({"model": "gpt", "preset": "gpt-tiny", "data": text_file,
                   "tokenizer": "char", "context_length": 32,
                   "batch_size": 8, "validation_fraction": 0.1}, f)
    old_keras_file(os.path.join(run, "model.keras"))

    loaded = load_run(run)
    assert loaded.task == "language_model"
    assert loaded.model.max_sequence_length == 32
    assert loaded.settings["max_sequence_length"] == 32
    assert loaded.labels is None

    assert main(["generate", "--run", run, "The king", "--max-new-tokens",
                 "5", "--temperature", "0", "--no-xla"]) == 0
    assert main(["eval", "--run", run]) == 0
    assert "the validation text of " in capsys.readouterr().out
    base = tmp_path / "saved_models"
    assert main(["export", "--run", run, "--name", "old", "--base-dir",
                 str(base), "--no-xla"]) == 0
    assert os.path.isfile(base / "old" / "1" / "saved_model.pb")


@pytest.mark.slow  # about 45 s
def test_an_old_unfinished_run_resumes(tmp_path, text_file, capsys):
    from tests.test_cli import Crash, CrashAtStep
    from tfzoo.tasks import make_settings, train

    run = str(tmp_path / "run")
    settings = make_settings(data=text_file, epochs=3, steps_per_epoch=4,
                             max_sequence_length=32, batch_size=8,
                             jit_compile=False)
    with pytest.raises(Crash):  # in the third epoch
        train(settings, run, sample_every=0, callbacks=[CrashAtStep(10)])
    old_run_json(run)
    with open(os.path.join(run, "run.json")) as f:
        old = json.load(f)
    assert "task" not in old and old["context_length"] == 32
    capsys.readouterr()
    # The command of the same run: resumed from the backup, not refused.
    assert main(["train", "--data", text_file, "--epochs", "3",
                 "--steps-per-epoch", "4", "--out", run, *QUICK]) == 0
    assert "Resuming" in capsys.readouterr().out
    assert load_run(run).model.max_sequence_length == 32


def test_commands_refuse_runs_of_another_task(tmp_path, capsys):
    tokenizer = CharTokenizer.from_text("abc")
    model = build_model("gpt-tiny", tokenizer.vocabulary_size(),
                        max_sequence_length=8, num_layers=1)
    run = make_run(tmp_path / "lm", model, tokenizer)
    assert main(["classify", "--run", run, "some text"]) == 1
    assert "is a language_model run" in capsys.readouterr().err


@pytest.mark.slow  # about 30 s
def test_old_option_names_still_work(tmp_path, text_file):
    run = str(tmp_path / "run")
    assert main(["train", "--data", text_file, "--steps", "2",
                 "--context-length", "16", "--batch-size", "4",
                 "--sample-every", "0", "--no-xla", "--out", run]) == 0
    with open(os.path.join(run, "run.json")) as f:
        settings = json.load(f)
    assert settings["task"] == "language_model"
    assert settings["max_sequence_length"] == 16


def test_an_old_classifier_run_loads_classifies_and_evaluates(tmp_path,
                                                               capsys):
    # A classifier run as tfzoo wrote it before: max_length and
    # warmup_fraction in run.json.
    import keras

    from tfzoo.models import LSTMClassifier
    from tfzoo.text import BertPreprocessor, save_preprocessor
    from tfzoo.runs.run_folder import save_model_atomically

    rows = [("a fine film", "pos"), ("a dull mess", "neg")] * 10
    data = tmp_path / "dev.tsv"
    data.write_text("sentence\tlabel\n" + "".join(
        f"{text}\t{label}\n" for text, label in rows), encoding="utf-8")
    preprocessor = BertPreprocessor.from_texts([t for t, _ in rows], 50, 16)
    keras.utils.set_random_seed(0)
    model = LSTMClassifier(preprocessor.vocabulary_size(), 2,
                           embedding_dim=8, hidden_dim=8)
    run = tmp_path / "old-classifier"
    run.mkdir()
    save_preprocessor(preprocessor, str(run))
    (run / "labels.json").write_text('["neg", "pos"]')
    save_model_atomically(model, str(run / "model.keras"))
    (run / "run.json").write_text(json.dumps({
        "task": "classification", "model": "lstm-classifier",
        "train": str(data), "validation": str(data), "init": None,
        "text_column": "sentence", "label_column": "label",
        "pair_column": None, "labels": None, "max_length": 16,
        "epochs": 1, "steps_per_epoch": None, "batch_size": 8,
        "learning_rate": 2e-3, "warmup_fraction": 0.1, "weight_decay": 0.01,
        "dropout": 0.1, "vocabulary_size": 50, "seed": 1337,
        "jit_compile": False, "precision": "float32"}))

    loaded = load_run(str(run))
    assert loaded.task == "classification"
    assert loaded.labels == ["neg", "pos"]
    assert loaded.settings["max_sequence_length"] == 16
    assert loaded.settings["warmup_steps"] is None
    assert main(["classify", "--run", str(run), "a fine film"]) == 0
    label = capsys.readouterr().out.split("\t")[0]
    assert label in ("neg", "pos")
    assert main(["eval", "--run", str(run)]) == 0
    assert "(20 examples)" in capsys.readouterr().out
