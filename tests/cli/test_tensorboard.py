"""`tfzoo tensorboard`: serves a run's logs, quietly, until Ctrl+C."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import tensorflow as tf

from tfzoo.cli.tensorboard import load_fast, logdir_flag


def make_logged_run(run_dir):
    """A run folder whose logs hold one scalar, `epoch_loss`."""
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "run.json"), "w") as f:
        json.dump({"task": "language_model"}, f)
    writer = tf.summary.create_file_writer(os.path.join(run_dir, "logs",
                                                        "train"))
    with writer.as_default():
        tf.summary.scalar("epoch_loss", 2.5, step=0)
    writer.close()
    return str(run_dir)


def test_serves_the_runs_logs_and_writes_nothing_else(tmp_path):
    run_dir = make_logged_run(tmp_path / "run")
    environment = {k: v for k, v in os.environ.items()
                   if k != "TF_CPP_MIN_LOG_LEVEL"}
    board = subprocess.Popen(
        [sys.executable, "-m", "tfzoo.cli", "tensorboard", "--run", run_dir,
         "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
        start_new_session=True)
    stop = threading.Timer(120, board.kill)  # never a hung test run
    stop.start()
    try:
        line = board.stderr.readline().decode()  # its first line: the URL
        url = re.search(r"http://\S+/", line)
        assert url, line
        tags = {}
        for _ in range(60):  # the logs are read a moment after the start
            with urllib.request.urlopen(
                    url.group(0) + "data/plugin/scalars/tags",
                    timeout=10) as response:
                tags = json.load(response)
            if tags:
                break
            time.sleep(1)
        assert "epoch_loss" in tags["train"]
    finally:
        # Ctrl+C: to the whole group, as a terminal sends it (the stderr
        # filter's process included).
        os.killpg(board.pid, signal.SIGINT)
        out, err = board.communicate(timeout=60)
        stop.cancel()
    assert board.returncode == 0
    # Neither TensorFlow's start-up lines nor TensorBoard's notes.
    assert (line + err.decode()).strip().splitlines() == [line.strip()]
    assert out == b""


def test_several_runs_are_named_by_their_folders():
    assert logdir_flag(["runs/a/"]) == ["--logdir=runs/a/logs"]
    assert logdir_flag(["runs/a", "old/b"]) == [
        "--logdir_spec=a:runs/a/logs,b:old/b/logs"]
    # TensorBoard's fast loader reads --logdir only.
    assert load_fast(["runs/a", "old/b"]) == "false"


def tfzoo_tensorboard(*argv):
    return subprocess.run(
        [sys.executable, "-m", "tfzoo.cli", "tensorboard", *argv],
        capture_output=True, text=True, timeout=60)


def test_a_run_without_logs_and_a_taken_port_are_one_line_errors(tmp_path):
    run_dir = make_logged_run(tmp_path / "run")
    bare = tmp_path / "ngram"
    os.makedirs(bare)
    (bare / "run.json").write_text('{"task": "language_model"}')
    result = tfzoo_tensorboard("--run", str(bare))
    assert result.returncode == 1 and result.stderr.splitlines() == [
        f"tfzoo: error: {bare} has no TensorBoard logs (n-gram and "
        "imported runs write none)"]
    with socket.socket() as taken:
        taken.bind(("localhost", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = tfzoo_tensorboard("--run", run_dir, "--port", str(port))
    assert result.returncode == 1 and result.stderr.splitlines() == [
        f"tfzoo: error: port {port} on localhost is in use; choose another "
        "with --port"]


def test_a_folder_that_is_no_run_is_a_one_line_error(tmp_path):
    result = tfzoo_tensorboard("--run", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"tfzoo: error: {tmp_path} is not a tfzoo run folder (no run.json)"]
