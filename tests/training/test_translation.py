"""The translation trainer: settings, training, memorising, evaluation."""

import csv
import os

import numpy as np
import pytest

from tfzoo.runs.loader import load_run
from tfzoo.tasks import train
from tfzoo.tasks.translation import copy_baseline, evaluate, make_settings


def make_translation_settings(model, data, validation_data, **options):
    return make_settings(model, data=data, validation_data=validation_data,
                         **options)

_ENGLISH = ("file", "cannot", "open", "the", "new", "old", "user", "found",
            "not", "directory", "read", "write", "error", "option", "value",
            "empty", "name", "server", "local", "invalid")
_GERMAN = ("Datei", "kann", "öffnen", "die", "neue", "alte", "Benutzer",
           "gefunden", "nicht", "Verzeichnis", "lesen", "schreiben",
           "Fehler", "Option", "Wert", "leer", "Name", "Server", "lokal",
           "ungültig")


def make_pairs(count=50, seed=0):
    """Sentence pairs of a made-up language pair: each English word has one
    German word, and the German order is reversed; some hold `%s`."""
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        words = rng.choice(len(_ENGLISH), size=rng.integers(3, 7))
        english = [_ENGLISH[w] for w in words]
        german = [_GERMAN[w] for w in words][::-1]
        if i % 5 == 0:
            english.append("%s")
            german.insert(0, "%s")
        pairs.append((" ".join(english), " ".join(german)))
    return pairs


def write_pairs(path, pairs, header=("en", "de")):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(pairs)
    return str(path)


@pytest.fixture
def pairs_file(tmp_path):
    return write_pairs(tmp_path / "pairs.tsv", make_pairs())


def tiny_settings(train, validation, **overrides):
    options = dict(preset="seq2seq-tiny", vocabulary_size=500,
                   max_sequence_length=48, batch_size=16, steps=40,
                   steps_per_epoch=20, learning_rate=3e-3, warmup_steps=20,
                   label_smoothing=0.0, dropout=0.0)
    options.update(overrides)
    return make_translation_settings("seq2seq", train, validation, **options)


def test_settings_take_the_presets_values():
    settings = make_translation_settings("lstm-seq2seq", "a.tsv", "b.tsv")
    assert settings["task"] == "translation"
    assert settings["preset"] == "lstm-seq2seq"
    assert settings["label_smoothing"] == 0.1
    assert settings["max_sequence_length"] == 128
    with pytest.raises(ValueError, match="is a seq2seq model"):
        make_translation_settings("lstm-seq2seq", "a", "b",
                                  preset="seq2seq-tiny")
    with pytest.raises(ValueError, match="label_smoothing"):
        make_translation_settings("seq2seq", "a", "b", label_smoothing=1.0)
    with pytest.raises(ValueError, match="unknown quoting"):
        make_translation_settings("seq2seq", "a", "b", quoting="maybe")
    with pytest.raises(ValueError, match="not both"):
        make_translation_settings("seq2seq", "a", "b", epochs=1, steps=2)


@pytest.mark.slow  # about 70 s; the run-folder test below trains one
def test_a_tiny_transformer_memorises_50_pairs(pairs_file, tmp_path):
    settings = tiny_settings(pairs_file, pairs_file, steps=300,
                             steps_per_epoch=100)
    train(settings, str(tmp_path / "run"), verbose=0, sample_every=0)
    metrics = evaluate(load_run(str(tmp_path / "run")), beam_width=2)
    assert metrics["greedy"]["bleu"] > 90, metrics["greedy"]["translations"]
    assert metrics["beam"]["bleu"] > 90
    assert metrics["greedy"]["placeholders_kept"] == 1.0
    assert metrics["greedy"]["placeholder_sentences"] == 10
    assert "nrefs:1" in metrics["greedy"]["bleu_signature"]
    assert metrics["loss"] < 0.2 and metrics["tokens"] > 0
    # The copy baseline on the same pairs is far below.
    pairs = make_pairs()
    from tfzoo.data.parallel import ParallelText
    copy = copy_baseline(ParallelText(*zip(*pairs)))
    assert copy["bleu"] < 20


@pytest.mark.slow  # about 55 s; tests/test_cli_translation.py trains one
def test_a_run_folder_and_its_samples(pairs_file, tmp_path):
    run_dir = str(tmp_path / "run")
    train(tiny_settings(pairs_file, pairs_file), run_dir, verbose=0,
          sample_every=20)
    for name in ("run.json", "tokenizer.json", "tokenizer.spm",
                 "model.keras"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    samples = os.listdir(os.path.join(run_dir, "logs", "samples"))
    assert samples  # TensorBoard event files with translations
    with open(os.path.join(run_dir, "logs", "history.csv")) as f:
        header = f.readline()
    for column in ("loss", "token_accuracy", "perplexity", "val_loss",
                   "val_perplexity"):
        assert column in header.strip().split(","), column
    run = load_run(run_dir)
    assert run.task == "translation" and run.labels is None
