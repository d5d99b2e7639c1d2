"""The real tf.distribute engine on this CPU, one `tfzoo train` process per
worker: MirroredStrategy over 2 logical CPU devices, a 2-worker
MultiWorkerMirroredStrategy cluster on localhost, kill -9 and resume,
determinism and the NaN guard."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import tfzoo.models  # noqa: F401  (registers the classes for load_model)
from tfzoo.training.distribute import localhost_tf_configs, weights_digest

# gpt-tiny, 2 epochs of 10 steps of 16 windows.
SHORT = ["--steps", "20", "--steps-per-epoch", "10", "--global-batch-size",
         "16", "--sample-every", "0"]
# 4 epochs of 15 steps: long enough to be killed in the middle.
LONG = ["--epochs", "4", "--steps-per-epoch", "15", "--global-batch-size",
        "16", "--sample-every", "0"]


def tfzoo(*args, env=None):
    """`[python -m tfzoo.cli ...]` and an environment for it."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return [sys.executable, "-m", "tfzoo.cli", *args], environment


def run(*args, env=None, timeout=300):
    command, environment = tfzoo(*args, env=env)
    return subprocess.run(command, env=environment, capture_output=True,
                          text=True, timeout=timeout)


def start(*args, env=None, log=None):
    command, environment = tfzoo(*args, env=env)
    return subprocess.Popen(command, env=environment, stdout=log,
                            stderr=subprocess.STDOUT, text=True)


def history(run_dir):
    with open(os.path.join(run_dir, "logs", "history.csv")) as f:
        return list(csv.DictReader(f))


def weights(run_dir):
    return keras.saving.load_model(
        os.path.join(run_dir, "model.keras")).get_weights()


def start_cluster(tmp_path, outs, *args, name="cluster"):
    """One `tfzoo train --strategy multiworker` per worker; `outs` holds
    each worker's --out. Returns the processes and their log files."""
    processes, logs = [], []
    for i, (config, out) in enumerate(zip(localhost_tf_configs(len(outs)),
                                             outs)):
        log = tmp_path / f"{name}-worker{i}.log"
        with open(log, "w") as f:
            processes.append(start("train", *args, "--out", str(out),
                                   "--strategy", "multiworker",
                                   env={"TF_CONFIG": config}, log=f))
        logs.append(log)
    return processes, logs


def wait_all(processes, timeout=300):
    return [p.wait(timeout=timeout) for p in processes]


def digests(logs):
    found = []
    for log in logs:
        match = re.search(r"final weights sha256 ([0-9a-f]{64})",
                          log.read_text())
        assert match, log.read_text()[-3000:]
        found.append(match.group(1))
    return found


def wait_for_backup(run_dir, process, timeout=120):
    """Waits until the run has backed up its first epoch."""
    metadata = os.path.join(run_dir, "backup", "training_metadata.json")
    deadline = time.time() + timeout
    while not os.path.isfile(metadata):
        assert process.poll() is None, "training ended before its backup"
        assert time.time() < deadline, "no backup written"
        time.sleep(0.02)


@pytest.mark.parametrize("optimizer", [
    "adamw", pytest.param("muon", marks=pytest.mark.slow)])
def test_mirrored_on_two_cpu_devices_matches_one_device(tmp_path, text_file,
                                                        optimizer):
    one = run("train", "--data", text_file, "--out", str(tmp_path / "one"),
              "--strategy", "default", "--no-xla", "--optimizer", optimizer,
              *SHORT)
    two = run("train", "--data", text_file, "--out", str(tmp_path / "two"),
              "--strategy", "mirrored", "--cpu-devices", "2", "--optimizer",
              optimizer, *SHORT)
    assert one.returncode == 0, one.stderr[-3000:]
    assert two.returncode == 0, two.stderr[-3000:]
    assert "of 16 x 64 tokens (8 per replica); MirroredStrategy with 2 " \
        "replicas" in two.stdout
    # Same global batch, same data and initial weights: the same training
    # up to float rounding of the split batch (measured: 0 to 5e-7 nats;
    # a clip per replica instead of across them would move it further, see
    # test_the_clip_sees_the_whole_batch_on_two_replicas).
    for a, b in zip(history(tmp_path / "one"), history(tmp_path / "two")):
        for key in ("loss", "val_loss"):
            assert abs(float(a[key]) - float(b[key])) < 1e-5, (key, a, b)
    assert float(history(tmp_path / "two")[-1]["val_loss"]) < float(
        history(tmp_path / "two")[0]["val_loss"])


def test_global_batch_that_does_not_divide_is_refused(tmp_path, text_file):
    result = run("train", "--data", text_file, "--out", str(tmp_path / "r"),
                 "--strategy", "mirrored", "--cpu-devices", "2",
                 "--global-batch-size", "15", "--steps", "2")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "tfzoo: error: global batch 15 does not divide among 2 replicas; "
        "use a multiple of 2")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow  # about 40 s
def test_two_workers_train_in_step_and_only_the_chief_writes(tmp_path,
                                                             text_file):
    # Each worker gets its own --out, as on two machines: worker 1's stays
    # absent because only the chief writes.
    chief, other = tmp_path / "chief", tmp_path / "other"
    processes, logs = start_cluster(tmp_path, [chief, other], "--data",
                                    text_file, *SHORT)
    assert wait_all(processes) == [0, 0], logs[1].read_text()[-3000:]
    first, second = digests(logs)
    assert first == second
    assert "MultiWorkerStrategy with 2 replicas" in logs[0].read_text()
    assert not other.exists()
    assert sorted(os.listdir(chief)) == ["checkpoints", "logs", "model.keras",
                                         "run.json", "tokenizer.json"]
    assert len(history(chief)) == 2
    assert any(name.startswith("events") for name in
               os.listdir(chief / "logs" / "train"))
    # The chief's saved model is the weights both workers ended with.
    model = keras.saving.load_model(chief / "model.keras")
    assert weights_digest(model) == first


@pytest.mark.slow  # test_kill_anywhere.py's resume is the default run's
def test_lost_worker_stops_the_other_and_both_resume(tmp_path, text_file):
    run_dir = tmp_path / "shared-run"  # one folder both workers see
    processes, logs = start_cluster(tmp_path, [run_dir, run_dir], "--data",
                                    text_file, *LONG, name="first")
    wait_for_backup(run_dir, processes[0])
    processes[1].send_signal(signal.SIGKILL)
    killed_at = time.time()
    status = processes[0].wait(timeout=120)
    assert time.time() - killed_at < 60  # a bounded wait, no hang
    assert status == 1
    error = logs[0].read_text().strip().splitlines()[-1]
    assert error.startswith("tfzoo: error: lost contact with another worker")
    assert "Restart every worker" in error
    assert not (run_dir / "model.keras").exists()

    processes, logs = start_cluster(tmp_path, [run_dir, run_dir], "--data",
                                    text_file, *LONG, name="second")
    assert wait_all(processes) == [0, 0], logs[0].read_text()[-3000:]
    for log in logs:
        assert re.search(r"Resuming .* at epoch [234]\.", log.read_text())
    first, second = digests(logs)
    assert first == second
    assert (run_dir / "model.keras").exists()


@pytest.mark.slow  # 2 minutes; test_kill_anywhere.py kills by default
def test_kill_9_then_rerun_resumes_to_the_same_weights(tmp_path, text_file):
    command = ["train", "--data", text_file, "--deterministic", *LONG]
    whole = run(*command, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-3000:]

    run_dir = tmp_path / "killed"
    with open(tmp_path / "killed.log", "w") as log:
        process = start(*command, "--out", str(run_dir), log=log)
        wait_for_backup(run_dir, process)
        time.sleep(0.2)  # into the next epoch
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not (run_dir / "model.keras").exists()
    resumed = run(*command, "--out", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert re.search(r"Resuming .* at epoch [234]\.", resumed.stdout)
    for a, b in zip(weights(tmp_path / "whole"), weights(run_dir)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow  # test_kill_anywhere.py compares --deterministic runs
def test_seed_and_determinism_give_bit_identical_losses(tmp_path,
                                                        text_file):
    def losses(name, seed):
        result = run("train", "--data", text_file, "--deterministic",
                     "--seed", str(seed), "--out", str(tmp_path / name),
                     *SHORT)
        assert result.returncode == 0, result.stderr[-3000:]
        return [(row["loss"], row["val_loss"])
                for row in history(tmp_path / name)]

    first = losses("a", 7)
    assert losses("b", 7) == first  # the strings, so every bit
    assert losses("c", 8) != first


@pytest.mark.slow  # about 40 s
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path,
                                                           text_file):
    # A learning rate that grows by 10 per step: the loss explodes to NaN
    # after a few one-step epochs.
    run_dir = tmp_path / "diverges"
    result = run("train", "--data", text_file, "--out", str(run_dir),
                 "--epochs", "10", "--steps-per-epoch", "1",
                 "--learning-rate", "1e6", "--warmup-steps", "100000",
                 "--sample-every", "0")
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"tfzoo: error: training stopped: (val_)?loss became nan .* the "
        r"last good checkpoints are kept in .*checkpoints\. Lower "
        r"--learning-rate .*", error), error
    assert not (run_dir / "model.keras").exists()
    checkpoints = sorted(os.listdir(run_dir / "checkpoints"))
    assert checkpoints, "no epoch ended before the NaN"
    with open(run_dir / "backup" / "training_metadata.json") as f:
        assert json.load(f)["epoch"] == len(checkpoints)
    last = keras.saving.load_model(run_dir / "checkpoints" / checkpoints[-1])
    assert all(np.isfinite(w).all() for w in last.get_weights())


@pytest.mark.slow  # about 20 s; the language model's runs by default
def test_classifier_trains_on_two_cpu_devices(tmp_path):
    from tests.training.test_classifier import write_examples

    run_dir = tmp_path / "classifier"
    result = run("train", "--model", "lstm-classifier",
                 "--train", write_examples(tmp_path / "train.tsv", 200, 0),
                 "--val", write_examples(tmp_path / "dev.tsv", 50, 1),
                 "--epochs", "2", "--steps-per-epoch", "10",
                 "--batch-size", "8", "--max-sequence-length", "24",
                 "--strategy", "mirrored", "--cpu-devices", "2",
                 "--out", str(run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("steps of 16 examples (8 per replica); MirroredStrategy with 2 "
            "replicas") in result.stdout
    rows = history(run_dir)
    assert len(rows) == 2 and float(rows[1]["loss"]) < float(rows[0]["loss"])
    assert (run_dir / "model.keras").exists()


CLIP_SCRIPT = """
import json, sys
import numpy as np
from tfzoo.training.distribute import split_cpu
split_cpu(2)
import keras
import tensorflow as tf
from tfzoo.optimizers import ClipAcrossReplicas


class SGD(ClipAcrossReplicas, keras.optimizers.SGD):
    pass


def train(optimizer_class, strategy):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype("float32")
    y = rng.normal(size=(8, 3)).astype("float32")
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        # A clip far below the gradient's norm, so it always acts.
        model.compile(optimizer_class(learning_rate=0.1,
                                      global_clipnorm=0.01),
                      loss="mse", jit_compile=False)
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    return [w.tolist() for w in model.get_weights()]


one = tf.distribute.get_strategy()
two = tf.distribute.MirroredStrategy(
    [d.name for d in tf.config.list_logical_devices("CPU")])
print(json.dumps({
    "replicas": two.num_replicas_in_sync,
    "across_one": train(SGD, one), "across_two": train(SGD, two),
    "keras_one": train(keras.optimizers.SGD, one),
    "keras_two": train(keras.optimizers.SGD, two),
}))
"""


def test_the_clip_sees_the_whole_batch_on_two_replicas():
    # tfzoo clips the summed gradient, as on one device; Keras alone clips
    # each replica's half before summing them. The first must match one
    # device at float rounding, the second must not: the test tells a clip
    # per replica from a clip across replicas.
    result = subprocess.run([sys.executable, "-c", CLIP_SCRIPT],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["replicas"] == 2
    for ours, reference in zip(found["across_two"], found["across_one"]):
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)
    for keras_alone, ours in zip(found["keras_one"], found["across_one"]):
        np.testing.assert_allclose(keras_alone, ours, rtol=0, atol=1e-6)
    keras_gap = max(
        np.max(np.abs(np.subtract(a, b)))
        for a, b in zip(found["keras_two"], found["keras_one"]))
    assert keras_gap > 1e-4, keras_gap  # measured: 8e-4


@pytest.mark.slow  # about 45 s; the classifier's runs by default
def test_translation_trains_on_two_cpu_devices(tmp_path):
    from tests.training.test_translation import make_pairs, write_pairs

    pairs = write_pairs(tmp_path / "pairs.tsv", make_pairs())
    run_dir = tmp_path / "translation"
    result = run("train", "--model", "seq2seq", "--preset", "seq2seq-tiny",
                 "--train", pairs, "--val", pairs, "--vocab-size", "500",
                 "--epochs", "2", "--steps-per-epoch", "10",
                 "--batch-size", "8", "--max-sequence-length", "48",
                 "--learning-rate", "0.003", "--warmup-steps", "5",
                 "--label-smoothing", "0", "--strategy", "mirrored",
                 "--cpu-devices", "2", "--sample-every", "0",
                 "--out", str(run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("steps of 16 pairs (8 per replica); MirroredStrategy with 2 "
            "replicas"
            in result.stdout)
    rows = history(run_dir)
    assert len(rows) == 2 and float(rows[1]["loss"]) < float(rows[0]["loss"])
    # The loss is the mean over real tokens however many replicas: without
    # smoothing, the log of the perplexity (not twice it).
    for row in rows:
        assert abs(float(row["val_loss"])
                   - np.log(float(row["val_perplexity"]))) < 0.1, row
    assert (run_dir / "model.keras").exists()
