"""Argument mistakes that need no TensorFlow are refused before it loads:
each is one line naming the problem, exit status 1 or 2, nothing written
(the time each takes: `python bench/cli_speed.py`)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# Runs the command in a fresh process and says which heavy modules loaded.
PROGRAM = (
    "import sys\n"
    "from tfzoo.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "heavy = [m for m in ('tensorflow', 'keras', 'keras_hub') "
    "if m in sys.modules]\n"
    "print('HEAVY', heavy, 'STATUS', status)\n"
)


def refuse(tmp_path, *arguments):
    result = subprocess.run([sys.executable, "-c", PROGRAM, *arguments],
                            cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "TFZOO_DATA_DIR": ""})
    return result.stdout, result.stderr.strip()


@pytest.fixture
def files(tmp_path):
    (tmp_path / "text.txt").write_text("Some text.\n" * 50)
    (tmp_path / "pairs.tsv").write_text("en\tde\nOpen\tÖffnen\n")
    (tmp_path / "labelled.tsv").write_text("sentence\tlabel\nGood.\t1\n")
    return tmp_path


MISTAKES = [
    (["train", "--data", "text.txt", "--preset", "gpt-huge", "--out", "r"],
     "unknown preset 'gpt-huge'"),
    (["train", "--data", "missing.txt", "--out", "r"],
     "missing.txt: no such file or folder"),
    (["train", "--data", "text.txt", "--data-dir", "nowhere", "--out", "r"],
     "--data-dir nowhere: no such folder"),
    (["train", "--model", "seq2seq", "--train", "pairs.tsv", "--val",
      "pairs.tsv", "--source-column", "english", "--out", "r"],
     "pairs.tsv has no column english (its header: en, de)"),
    (["train", "--model", "lstm-classifier", "--train", "labelled.tsv",
      "--val", "labelled.tsv", "--label-column", "stars", "--out", "r"],
     "labelled.tsv has no column stars"),
    (["train", "--model", "lstm-classifier", "--train", "labelled.tsv",
      "--out", "r"], "--model lstm-classifier needs --train and --val"),
    (["train", "--model", "ngram", "--data", "text.txt", "--steps", "3",
      "--out", "r"], "--model ngram is counted, not trained: it takes no "
     "--steps"),
    (["train", "--data", "text.txt", "--epochs", "2", "--steps", "3",
      "--out", "r"], "give --epochs or --steps, not both"),
    (["train", "--model", "bert-classifier", "--train", "labelled.tsv",
      "--val", "labelled.tsv", "--init", "no-checkpoint", "--out", "r"],
     "--init no-checkpoint: no such file or folder"),
    (["eval", "--run", "no-run"], "no-run is not a tfzoo run folder"),
    (["eval", "--run", "no-run", "--data-dir", "nowhere"],
     "--data-dir nowhere: no such folder"),
    (["plot", "--run", "no-run", "--data-dir", "nowhere"],
     "--data-dir nowhere: no such folder"),
    (["generate", "--run", "no-run", "ROMEO:"],
     "no-run is not a tfzoo run folder"),
    (["generate", "--run", "no-run", "ROMEO:", "--max-new-tokens", "0"],
     "--max-new-tokens: must be at least 1, got 0"),
    (["export", "--run", "no-run", "--name", "x"],
     "no-run is not a tfzoo run folder"),
    (["export", "--run", "no-run", "--name", "../up"], "invalid model name"),
    (["translate", "--run", "no-run", "Hello"],
     "no-run is not a tfzoo run folder"),
]


@pytest.mark.parametrize("arguments, message", MISTAKES)
def test_a_mistake_is_refused_before_tensorflow_loads(files, arguments,
                                                      message):
    out, error = refuse(files, *arguments)
    assert message in error, error
    assert len(error.splitlines()) == 1, error
    assert "HEAVY [] STATUS" in out or "STATUS" not in out, out
    assert not (files / "r").exists()
