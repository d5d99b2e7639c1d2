"""A run killed at any moment, even inside a write of its run folder,
resumes to the weights of a run that was never killed (#17).

Each case kills `tfzoo train --deterministic` (gpt-tiny, 3 epochs of 5
steps) with SIGKILL, reruns the same command, and compares the finished run
with one uninterrupted run, bit for bit. The kills inside writes use the
test hook `TFZOO_TEST_KILL_DURING` (`run_folder.crash_point`).
"""

import os
import re
import shutil
import signal
import time

import h5py
import numpy as np
import pytest

from tests.conftest import make_text
from tests.training.test_distributed_training import (history, run, start,
                                                      weights)

COMMAND = ["train", "--deterministic", "--epochs", "3", "--steps-per-epoch",
           "5", "--global-batch-size", "16", "--sample-every", "0"]


@pytest.fixture(scope="module")
def verses(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "verses.txt"
    path.write_text(make_text(), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def whole(verses, tmp_path_factory):
    """The run never killed."""
    run_dir = tmp_path_factory.mktemp("whole") / "run"
    result = run(*COMMAND, "--data", verses, "--out", str(run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def train(verses, run_dir, kill_during=None):
    env = {"TFZOO_TEST_KILL_DURING": kill_during} if kill_during else None
    return run(*COMMAND, "--data", verses, "--out", str(run_dir), env=env)


def assert_same_run(run_dir, whole):
    """`run_dir` finished as `whole` did: weights, history, checkpoints, no
    backup and no temporary file left."""
    for a, b in zip(weights(whole), weights(run_dir), strict=True):
        np.testing.assert_array_equal(a, b)
    assert history(run_dir) == history(whole)  # no row twice or missing
    assert sorted(os.listdir(run_dir)) == sorted(os.listdir(whole))
    assert sorted(os.listdir(run_dir / "checkpoints")) == [
        "epoch_001.keras", "epoch_002.keras", "epoch_003.keras"]


# One run folder, killed by each process during one write, in this order:
# (TFZOO_TEST_KILL_DURING, what the run then holds).
KILLS = [
    ("checkpoint:2", "epoch 1 backed up, epoch 2's checkpoint cut"),
    ("history", "epoch 2's row written, nothing else of it"),
    ("backup", "epoch 2's checkpoint whole, its backup weights cut"),
    ("backup-metadata", "epoch 2's backup weights in place, its metadata "
                        "cut: the metadata still names epoch 1's"),
    ("model", "epoch 3 backed up, model.keras cut"),
]


def test_a_kill_inside_the_backup_resumes_to_the_same_weights(verses, whole,
                                                              tmp_path):
    # The default run's kill: epoch 2's backup weights cut, so the rerun
    # resumes from epoch 1's backup. The test below kills inside each
    # write in turn (slow).
    run_dir = tmp_path / "run"
    result = train(verses, run_dir, "backup:2")
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    assert not (run_dir / "model.keras").exists()
    result = train(verses, run_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Resuming {run_dir} at epoch 2." in result.stdout
    assert "tfzoo: note:" not in result.stderr
    assert_same_run(run_dir, whole)


@pytest.mark.slow  # about 3 minutes: six runs
def test_kills_inside_each_write_resume_to_the_same_weights(verses, whole,
                                                            tmp_path):
    run_dir = tmp_path / "run"
    for kill_during, state in KILLS:
        result = train(verses, run_dir, kill_during)
        assert result.returncode == -signal.SIGKILL, (
            kill_during, result.stderr[-3000:])
        if kill_during != KILLS[0][0]:  # each resumes from epoch 1's backup
            assert f"Resuming {run_dir} at epoch 2." in result.stdout, state
        assert "tfzoo: note:" not in result.stderr, state
    assert not (run_dir / "model.keras").exists()
    result = train(verses, run_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Resuming {run_dir} at epoch 4." in result.stdout  # all done
    assert_same_run(run_dir, whole)


def kill_when(process, ready, delay):
    """SIGKILLs `process` `delay` seconds after `ready()` holds (unless it
    ended before); returns its exit status."""
    while not ready() and process.poll() is None:
        time.sleep(0.005)
    time.sleep(delay)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    return process.wait(timeout=300)


@pytest.mark.slow  # about 5 minutes
def test_kills_at_spread_out_moments_resume_to_the_same_weights(
        verses, whole, tmp_path):
    run_dir = tmp_path / "run"

    def new_checkpoint(since):
        folder = run_dir / "checkpoints"
        return lambda: folder.is_dir() and any(
            re.fullmatch(r"epoch_\d+\.keras", name)
            and os.path.getmtime(folder / name) > since
            for name in os.listdir(folder))

    # While the run starts, just as an epoch's checkpoint is in place (the
    # backup is being written), and a little after.
    moments = [(lambda since: (run_dir / "run.json").exists, 0.0),
               (new_checkpoint, 0.0), (new_checkpoint, 0.05)]
    statuses = []
    for i, (ready, delay) in enumerate(moments):
        with open(tmp_path / f"killed{i}.log", "w") as log:
            since = time.time()
            process = start(*COMMAND, "--data", verses, "--out",
                            str(run_dir), log=log)
            statuses.append(kill_when(process, ready(since), delay))
    assert statuses[0] == -signal.SIGKILL
    assert not (run_dir / "model.keras").exists()
    result = train(verses, run_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_run(run_dir, whole)


def test_a_backup_cut_by_an_older_tfzoo_falls_back_to_a_checkpoint(
        verses, whole, tmp_path):
    # What an older tfzoo left when killed while backing up epoch 3: its
    # metadata said epoch 2 and latest.weights.h5 was cut to 96 bytes, and
    # no rerun could resume. Now the rerun goes back to epoch 2's checkpoint.
    run_dir = tmp_path / "run"
    shutil.copytree(whole, run_dir)
    (run_dir / "model.keras").unlink()
    (run_dir / "checkpoints" / "epoch_003.keras").unlink()
    (run_dir / "backup").mkdir()
    (run_dir / "backup" / "training_metadata.json").write_text(
        '{"epoch": 2, "batch": 0}')
    cut = run_dir / "backup" / "latest.weights.h5"
    with h5py.File(cut, "w") as f:
        f["weights"] = np.zeros(1000)
    os.truncate(cut, 96)  # its superblock, as the kill left it
    result = train(verses, run_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    notes = [line for line in result.stderr.splitlines()
             if line.startswith("tfzoo: note:")]
    assert len(notes) == 1, result.stderr[-3000:]
    assert re.fullmatch(
        rf"tfzoo: note: the backup in {re.escape(str(run_dir))}/backup is "
        r"damaged \(latest\.weights\.h5: Unable to synchronously open file "
        r"\(truncated file: .*\)\); resuming from checkpoints/epoch_002\.keras", notes[0])
    assert f"Resuming {run_dir} at epoch 3." in result.stdout
    assert_same_run(run_dir, whole)
