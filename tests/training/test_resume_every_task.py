"""Every task resumes bit for bit under --deterministic (#31.1).

For each task a real `tfzoo train --deterministic` run is killed with
SIGKILL inside its second epoch, then rerun; the finished run must equal
an uninterrupted one, weights and `history.csv` bit for bit. The resumed
run's training stream starts where the killed run's stopped
(`lifecycle.resume_stream`): shuffles, masks and buckets included. (The
language model's case, with kills inside each write, is
tests/training/test_kill_anywhere.py.)
"""

import os
import signal
import time

import numpy as np
import pytest

from tests.conftest import make_text
from tests.training.test_classifier import write_examples
from tests.training.test_distributed_training import (history, run, start,
                                                      weights)
from tests.training.test_translation import make_pairs, write_pairs

# Three epochs of ten steps, small models.
SCHEDULE = ["--deterministic", "--epochs", "3", "--steps-per-epoch", "10",
            "--batch-size", "8"]


def task_arguments(task, folder):
    """The `tfzoo train` arguments of a small run of `task`."""
    if task == "classifier":
        train = write_examples(folder / "train.tsv", 120, 0)
        val = write_examples(folder / "dev.tsv", 30, 1)
        return ["--model", "lstm-classifier", "--train", train, "--val", val,
                "--max-sequence-length", "24", "--vocab-size", "200"]
    if task == "masked_lm":
        (folder / "lines.txt").write_text(make_text(1500), encoding="utf-8")
        return ["--model", "bert-mlm", "--data", str(folder / "lines.txt"),
                "--max-sequence-length", "16", "--vocab-size", "100"]
    pairs = write_pairs(folder / "pairs.tsv", make_pairs(120))
    return ["--model", "seq2seq", "--preset", "seq2seq-tiny", "--train",
            pairs, "--val", pairs, "--vocab-size", "400",
            "--max-sequence-length", "32", "--sample-every", "0"]


def killed_in_epoch_two(arguments, run_dir, log_path):
    """Starts the run and SIGKILLs it once its first epoch is backed up and
    a step of the second has been taken."""
    metadata = run_dir / "backup" / "training_metadata.json"
    with open(log_path, "w") as log:
        process = start("train", *arguments, "--out", str(run_dir), log=log)
        deadline = time.time() + 300
        while not metadata.exists() and process.poll() is None:
            assert time.time() < deadline, "no epoch was backed up"
            time.sleep(0.01)
        time.sleep(0.3)  # inside epoch 2 (it takes a few seconds)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        return process.wait(timeout=300)


# About 5 minutes for the three; the language model's resume is in the
# default run (test_kill_anywhere.py).
@pytest.mark.slow
@pytest.mark.parametrize("task", ["classifier", "masked_lm", "translation"])
def test_a_run_killed_inside_an_epoch_resumes_bit_for_bit(task, tmp_path):
    arguments = [*task_arguments(task, tmp_path), *SCHEDULE]
    whole = tmp_path / "whole"
    result = run("train", *arguments, "--out", str(whole))
    assert result.returncode == 0, result.stderr[-3000:]

    resumed = tmp_path / "resumed"
    status = killed_in_epoch_two(arguments, resumed, tmp_path / "kill.log")
    assert status == -signal.SIGKILL, (tmp_path / "kill.log").read_text()
    assert not (resumed / "model.keras").exists()
    result = run("train", *arguments, "--out", str(resumed))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Resuming {resumed} at epoch " in result.stdout  # 2 (or 3)

    assert history(resumed) == history(whole)  # every digit of every row
    for a, b in zip(weights(whole), weights(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
