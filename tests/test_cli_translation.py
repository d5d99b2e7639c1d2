"""`tfzoo train|translate|eval|export` for translation models, end to end:
a tiny Transformer on made-up sentence pairs, its export called in a fresh
process that imports neither tfzoo nor keras-hub."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import imports_of_command, replay_warmup
from tests.test_cli import Crash, CrashAtStep, history_rows
from tests.training.test_translation import (make_pairs, tiny_settings,
                                             write_pairs)
from tfzoo.cli import main

QUICK = ["--preset", "seq2seq-tiny", "--vocab-size", "500",
         "--max-sequence-length", "48", "--batch-size", "16",
         "--learning-rate", "0.003", "--warmup-steps", "20",
         "--label-smoothing", "0", "--dropout", "0", "--sample-every", "0",
         "--no-xla"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A translation run trained by the CLI, and its pairs file."""
    root = tmp_path_factory.mktemp("translation")
    pairs = write_pairs(root / "pairs.tsv", make_pairs())
    run = str(root / "run")
    assert main(["train", "--model", "seq2seq", "--train", pairs, "--val",
                 pairs, "--steps", "200", "--steps-per-epoch", "100",
                 "--out", run, *QUICK]) == 0
    return run, pairs


def test_translate_prints_one_line_per_sentence(trained, capsys):
    run, _ = trained
    english, german = make_pairs()[1]
    capsys.readouterr()
    assert main(["translate", "--run", run, english, "cannot open %s"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0] == german
    for beam_width in ("1", "3"):
        assert main(["translate", "--run", run, "--beam-width", beam_width,
                     english]) == 0
        assert capsys.readouterr().out.strip() == german


def test_translate_imports_no_matplotlib(trained):
    run, _ = trained
    imported, out = imports_of_command(["translate", "--run", run,
                                        make_pairs()[1][0]])
    assert imported == [] and out.startswith(make_pairs()[1][1])


def test_eval_prints_loss_bleu_chrf_and_placeholders(trained, capsys):
    run, _ = trained
    capsys.readouterr()
    assert main(["eval", "--run", run, "--beam-width", "2"]) == 0
    out = capsys.readouterr().out
    assert "nats/token, perplexity" in out
    assert "greedy: BLEU" in out and "beam 2: BLEU" in out
    assert "placeholders kept in" in out and "of 10 sentences" in out
    assert "sacrebleu BLEU: nrefs:1|case:mixed" in out
    bleu = float(out.split("greedy: BLEU ")[1].split(",")[0])
    assert bleu > 90


LOADER = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    import tensorflow_text  # registers SentencepieceOp, as TF Serving has

    loaded = tf.saved_model.load(sys.argv[1])
    translate = loaded.signatures["serving_default"]

    def call(sources, beam_width=1, max_new_tokens=48):
        out = translate(source=tf.constant(sources, tf.string),
                        beam_width=tf.constant(beam_width),
                        max_new_tokens=tf.constant(max_new_tokens))
        return [t.decode("utf-8") for t in out["translation"].numpy()]

    def bad_shape(**inputs):
        values = {"beam_width": 1, "max_new_tokens": 48, **inputs}
        try:
            translate(**{k: tf.constant(v) for k, v in values.items()})
        except tf.errors.InvalidArgumentError as error:
            return [line.strip() for line in str(error).splitlines()
                    if "Shape of tensor" in line][0]

    sentences = json.loads(sys.argv[2])
    results = {
        "signatures": sorted(loaded.signatures),
        "inputs": sorted(translate.structured_input_signature[1]),
        "greedy": call(sentences),
        "beam": call(sentences, beam_width=4),
        "odd": call(["", b"open \\xff\\xfe file", "file " * 500]),
        "no_sentences": call([]),
        "beam_clamped": [call(sentences[:1], beam_width=0),
                         call(sentences[:1], beam_width=1000)],
        "zero_tokens": call(sentences[:1], max_new_tokens=0),
        "two_tokens": call(sentences[:1], max_new_tokens=2),
        "many_tokens": call(sentences[:1], max_new_tokens=10**6),
        # The function's defaults: greedy, the longest translation.
        "defaults": [t.decode("utf-8") for t in loaded.translate(
            tf.constant(sentences))["translation"].numpy()],
        "bad_shapes": [bad_shape(source=[sentences[:1]]),
                       bad_shape(source=sentences, beam_width=[1, 2])],
    }
    results["tfzoo imported"] = any(m.startswith(("tfzoo", "keras_hub"))
                                    for m in sys.modules)
    print(json.dumps(results))
""")


@pytest.mark.parametrize("xla", [
    False, pytest.param(True, marks=pytest.mark.slow)])
def test_export_serves_raw_strings_in_a_fresh_process(trained, tmp_path,
                                                      capsys, xla):
    from tfzoo.generation.translate import translate
    from tfzoo.runs.loader import load_run

    run, _ = trained
    base = str(tmp_path / "saved_models")
    assert main(["export", "--run", run, "--name", "en-de", "--base-dir",
                 base] + ([] if xla else ["--no-xla"])) == 0
    assert os.path.isdir(os.path.join(base, "en-de", "1"))
    sentences = [english for english, _ in make_pairs()[:3]]
    result = subprocess.run(
        [sys.executable, "-c", LOADER, os.path.join(base, "en-de", "1"),
         json.dumps(sentences)],
        capture_output=True, text=True, check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert not served["tfzoo imported"]
    assert served["signatures"] == ["serving_default"]
    assert served["inputs"] == ["beam_width", "max_new_tokens", "source"]
    loaded = load_run(run)
    assert served["greedy"] == translate(loaded.model, loaded.tokenizer,
                                         sentences)
    assert served["beam"] == translate(loaded.model, loaded.tokenizer,
                                       sentences, beam_width=4)
    assert served["odd"][0] == "" and len(served["odd"]) == 3
    assert served["no_sentences"] == []
    assert served["beam_clamped"][0] == served["greedy"][:1]
    assert len(served["beam_clamped"][1]) == 1
    assert served["zero_tokens"] == [""]
    assert len(served["two_tokens"][0].split()) <= 2
    assert served["many_tokens"] == served["greedy"][:1]
    assert served["defaults"] == served["greedy"]
    replies = replay_warmup(os.path.join(base, "en-de", "1"))
    assert [(s, b) for s, b, _ in replies] == [("serving_default", 1),
                                               ("serving_default", 4)]
    for _, batch, outputs in replies:
        assert outputs["translation"].shape == (batch,)
    # An input of the wrong shape is refused, named.
    assert served["bad_shapes"] == [
        "Shape of tensor source [1,1] is not compatible with expected shape "
        "[?].",
        "Shape of tensor beam_width [2] is not compatible with expected "
        "shape [].",
    ]


@pytest.mark.slow  # about 40 s; tests/training/test_kill_anywhere.py
def test_resume_after_a_crash(tmp_path, capsys):
    from tfzoo.tasks import train

    pairs = write_pairs(tmp_path / "pairs.tsv", make_pairs())
    run = str(tmp_path / "run")
    settings = tiny_settings(pairs, pairs, steps=60, steps_per_epoch=20,
                             jit_compile=False)
    with pytest.raises(Crash):
        train(settings, run, sample_every=0, verbose=0,
              callbacks=[CrashAtStep(45)])  # in the third epoch
    assert not os.path.exists(os.path.join(run, "model.keras"))
    assert main(["train", "--model", "seq2seq", "--train", pairs, "--val",
                 pairs, "--steps", "60", "--steps-per-epoch", "20", "--out",
                 run, *QUICK]) == 0
    assert f"Resuming {run} at epoch 3." in capsys.readouterr().out
    assert [row["epoch"] for row in history_rows(run)] == ["0", "1", "2"]
    # A finished run is left as it is.
    assert main(["train", "--model", "seq2seq", "--train", pairs, "--val",
                 pairs, "--steps", "60", "--steps-per-epoch", "20", "--out",
                 run, *QUICK]) == 0
    assert "already complete" in capsys.readouterr().out


@pytest.mark.parametrize("files, extra, message", [
    ({"TRAIN": "en\tfr\na\tb\n"}, [], "has no column de (its header: en, fr)"),
    ({"TRAIN": ""}, [], "is empty"),
    ({"TRAIN": "en\nhello\nworld\n"}, [], "has no column de"),
    ({"TRAIN": "en\tde\n"}, [], "has a header but no examples"),
    ({"TRAIN": "en\tde\nonly one field\n"}, [],
     "line 2: 1 field where the header has 2"),
    ({"TRAIN": "en\tde\na\t\n"}, [], "line 2: the 'de' field is missing"),
    ({"TRAIN": "en\tde\na\tb\n"}, ["--target-column", "en"],
     "source and target columns are both 'en'"),
    ({"TRAIN": "en\tde\na\tb\n"}, ["--preset", "lstm-seq2seq"],
     "is a lstm-seq2seq model"),
    ({"TRAIN": "\ufeffen\tde\r\na\tb\r\n"}, ["--val", "nope.tsv"],
     "nope.tsv: no such file"),
])
def test_bad_input_is_a_one_line_error_and_leaves_nothing(
        tmp_path, capsys, files, extra, message):
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    train = str(tmp_path / "TRAIN")
    run = tmp_path / "run"
    arguments = ["train", "--model", "seq2seq", "--train", train,
                 "--val", train, "--out", str(run), "--steps", "1", *QUICK]
    arguments[arguments.index("--preset") + 1:
              arguments.index("--preset") + 2] = ["seq2seq-tiny"]
    if "--preset" in extra:
        arguments[arguments.index("--preset"):
                  arguments.index("--preset") + 2] = []
    if "--val" in extra:
        arguments[arguments.index("--val") + 1] = str(tmp_path / "nope.tsv")
        extra = []
    assert main(arguments + extra) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("tfzoo: error: ") and message in error, error
    assert len(error.splitlines()) == 1
    assert not run.exists()


def test_missing_val_is_refused_before_tensorflow_loads(tmp_path, capsys):
    assert main(["train", "--model", "lstm-seq2seq", "--train", "x.tsv",
                 "--out", str(tmp_path / "run")]) == 1
    assert "needs --train and --val" in capsys.readouterr().err
