"""Text classifiers end to end: train, eval, classify, export, bad input."""

import json
import os
import subprocess
import sys
import textwrap

import matplotlib.image
import numpy as np
import pytest

from tfzoo.cli import main
from tfzoo.tasks.classification import classification_metrics

from tests.conftest import imports_of_command, replay_warmup
from tests.models.test_bert import write_hf_checkpoint
from tests.test_cli import has_graph, tensorboard_tags

# Words of the random checkpoint's vocabulary: w0 ... w114.
GOOD = [f"w{i}" for i in range(10)]
BAD = [f"w{i}" for i in range(10, 20)]
NEUTRAL = [f"w{i}" for i in range(20, 60)]


def write_examples(path, count, seed):
    """Sentences of neutral words with one or two class words: learnable."""
    rng = np.random.default_rng(seed)
    lines = ["sentence\tlabel"]
    for _ in range(count):
        label = int(rng.integers(2))
        words = list(rng.choice(NEUTRAL, size=int(rng.integers(3, 12))))
        for _ in range(int(rng.integers(1, 3))):
            words.insert(int(rng.integers(len(words) + 1)),
                         rng.choice(GOOD if label else BAD))
        lines.append(" ".join(words) + f"\t{['negative', 'positive'][label]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labelled")
    return {
        "train": write_examples(folder / "train.tsv", 400, 0),
        "val": write_examples(folder / "dev.tsv", 100, 1),
        "checkpoint": write_hf_checkpoint(folder / "bert", scale=0.02),
        "folder": folder,
    }


def train(data, run, model, *extra):
    return main(["train", "--model", model, "--train", data["train"],
                 "--val", data["val"], "--epochs", "2", "--steps-per-epoch",
                 "25", "--batch-size", "16", "--max-sequence-length", "24",
                 "--out", run, *extra])


def eval_accuracy(run, capsys, *extra):
    assert main(["eval", "--run", run, *extra]) == 0
    out = capsys.readouterr().out
    assert "confusion matrix" in out and "macro F1" in out
    return float(out.split("accuracy ")[1].split(",")[0]), out


def test_metrics_on_a_hand_made_confusion():
    true = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 2, 2])
    metrics = classification_metrics(true, predicted, 3)
    assert metrics["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    # F1 per class: 0.8, 0.5, 2/3.
    assert metrics["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


@pytest.mark.slow  # about 40 s; the BERT classifier runs by default
def test_lstm_classifier_trains_evaluates_classifies_and_exports(
        data, tmp_path, capsys):
    run = str(tmp_path / "lstm")
    assert train(data, run, "lstm-classifier") == 0
    train_logs = os.path.join(run, "logs", "train")
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"} <= (
        tensorboard_tags(train_logs))
    assert has_graph(train_logs)  # the dict-input model's graph too
    accuracy, out = eval_accuracy(run, capsys)
    assert accuracy > 0.9
    assert "negative" in out and "positive" in out

    assert main(["plot", "--run", run]) == 0
    capsys.readouterr()
    confusion = matplotlib.image.imread(
        os.path.join(run, "plots", "confusion_matrix.png"))
    assert confusion.shape[0] > 200 and confusion.shape[1] > 200
    assert os.path.isfile(os.path.join(run, "plots", "curves.png"))

    assert main(["classify", "--run", run, "w20 w1 w21", "w22 w15"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["positive", "negative"]
    imported, out = imports_of_command(["classify", "--run", run, "w20 w1"])
    assert imported == [] and out.startswith("positive")  # no matplotlib

    base = str(tmp_path / "saved_models")
    assert main(["export", "--run", run, "--name", "sentiment", "--base-dir",
                 base]) == 0
    loader = textwrap.dedent("""
        import json, sys
        import tensorflow as tf
        import tensorflow_text  # WordPiece ops, built into TF Serving
        served = tf.saved_model.load(sys.argv[1])
        classify = served.signatures["serving_default"]
        single = classify(text=tf.constant(["w20 w1 w21", "w22 w15", ""]),
                          text_pair=tf.constant([], tf.string))
        pair = classify(text=tf.constant(["w20 w1"]),
                        text_pair=tf.constant(["w22"]))
        try:
            classify(text=tf.constant([["w20"]]),
                     text_pair=tf.constant([], tf.string))
            bad_shape = "no error"
        except tf.errors.InvalidArgumentError as error:
            bad_shape = [line.strip() for line in str(error).splitlines()
                         if "Shape of tensor" in line][0]
        print(json.dumps({
            "bad_shape": bad_shape,
            "labels": [s.decode() for s in single["label"].numpy()],
            "ids": single["label_id"].numpy().tolist(),
            "sums": single["probabilities"].numpy().sum(-1).tolist(),
            "pair": pair["label"].numpy()[0].decode(),
            "tfzoo": any(m.startswith(("tfzoo", "keras_hub"))
                         for m in sys.modules),
        }))
    """)
    loaded = subprocess.run(
        [sys.executable, "-c", loader, os.path.join(base, "sentiment", "1")],
        capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    result = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert result["labels"][:2] == ["positive", "negative"]
    assert result["ids"][:2] == [1, 0]
    assert result["sums"] == pytest.approx([1, 1, 1], abs=1e-5)
    assert result["pair"] in ("positive", "negative")
    assert result["tfzoo"] is False
    assert result["bad_shape"] == ("Shape of tensor text [1,1] is not "
                                   "compatible with expected shape [?].")
    # The warm-up requests TF Serving replays at load: batches 1 and 4.
    replies = replay_warmup(os.path.join(base, "sentiment", "1"))
    assert [(s, b) for s, b, _ in replies] == [("serving_default", 1),
                                               ("serving_default", 4)]
    for _, batch, outputs in replies:
        assert outputs["probabilities"].shape == (batch, 2)


def test_bert_classifier_from_a_hugging_face_checkpoint(data, tmp_path,
                                                        capsys):
    run = str(tmp_path / "bert")
    # A tiny random "pretrained" model needs ~60 steps to leave chance.
    assert train(data, run, "bert-classifier", "--init", data["checkpoint"],
                 "--learning-rate", "1e-3", "--epochs", "3",
                 "--steps-per-epoch", "40") == 0
    accuracy, _ = eval_accuracy(run, capsys)
    assert accuracy > 0.9
    # A classifier run can start another (--init runs/NAME).
    again = str(tmp_path / "again")
    assert train(data, again, "bert-classifier", "--init", run,
                 "--learning-rate", "1e-4") == 0
    assert eval_accuracy(again, capsys)[0] > 0.9


@pytest.mark.slow  # about 25 s; the BERT classifier runs by default
def test_transformer_classifier_from_scratch(data, tmp_path, capsys):
    run = str(tmp_path / "transformer")
    assert train(data, run, "transformer-classifier", "--vocab-size",
                 "200", "--learning-rate", "1e-3") == 0
    assert eval_accuracy(run, capsys)[0] > 0.8


def one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("tfzoo: error: ") and len(err.splitlines()) == 1
    return err


def test_bad_labels_and_files_are_one_line_errors(data, tmp_path, capsys):
    folder = data["folder"]
    odd = folder / "odd.tsv"
    odd.write_text("sentence\tlabel\nw1 w2\tmaybe\n", encoding="utf-8")
    run = str(tmp_path / "run")
    assert main(["train", "--model", "lstm-classifier", "--train",
                 data["train"], "--val", str(odd), "--out", run]) == 1
    assert "'maybe' are not among the classes 'negative', 'positive'" in (
        one_line_error(capsys))
    assert main(["train", "--model", "lstm-classifier", "--train",
                 data["train"], "--val", data["val"], "--labels", "0,1",
                 "--out", str(tmp_path / "ints")]) == 1
    assert "are not among the classes '0', '1'" in one_line_error(capsys)
    empty = folder / "empty.tsv"
    empty.write_text("", encoding="utf-8")
    assert main(["train", "--model", "lstm-classifier", "--train",
                 str(empty), "--val", data["val"], "--out",
                 str(tmp_path / "empty")]) == 1
    assert "is empty" in one_line_error(capsys)
    assert main(["train", "--model", "bert-classifier", "--train",
                 data["train"], "--out", str(tmp_path / "x")]) == 1
    assert "needs --train and --val" in one_line_error(capsys)
    # A run refused for its data leaves nothing behind.
    assert not any((tmp_path / name).exists()
                   for name in ("run", "ints", "empty", "x"))


def test_bad_checkpoints_are_one_line_errors(data, tmp_path, capsys):
    broken = write_hf_checkpoint(tmp_path / "broken")
    os.remove(os.path.join(broken, "model.safetensors"))
    assert main(["train", "--model", "bert-classifier", "--init", broken,
                 "--train", data["train"], "--val", data["val"], "--out",
                 str(tmp_path / "r1")]) == 1
    assert "neither a tfzoo run nor a Hugging Face checkpoint" in (
        one_line_error(capsys))
    mismatched = write_hf_checkpoint(tmp_path / "mismatched")
    with open(os.path.join(mismatched, "config.json")) as f:
        config = json.load(f)
    config["hidden_size"] = 48
    with open(os.path.join(mismatched, "config.json"), "w") as f:
        json.dump(config, f)
    assert main(["train", "--model", "bert-classifier", "--init", mismatched,
                 "--train", data["train"], "--val", data["val"], "--out",
                 str(tmp_path / "r2")]) == 1
    assert "does not fit the sizes in config.json" in one_line_error(capsys)


def test_a_different_run_is_not_overwritten(data, tmp_path, capsys):
    run = str(tmp_path / "kept")
    assert train(data, run, "lstm-classifier") == 0
    before = os.path.getmtime(os.path.join(run, "model.keras"))
    capsys.readouterr()  # the first run's output and progress
    assert train(data, run, "lstm-classifier", "--dropout", "0.3") == 1
    assert "holds a different run" in one_line_error(capsys)
    assert os.path.getmtime(os.path.join(run, "model.keras")) == before
