"""`tfzoo --version` and `tfzoo generate`'s default length, read without
TensorFlow."""

import os
import subprocess
import sys

import pytest

from tfzoo import __version__
from tfzoo.choices import DEFAULT_NEW_TOKENS
from tfzoo.cli import build_parser


def test_version_comes_from_the_package_metadata():
    result = subprocess.run([sys.executable, "-m", "tfzoo.cli", "--version"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout == f"tfzoo {__version__}\n"


def test_generate_help_shows_the_default_length():
    assert DEFAULT_NEW_TOKENS == {"char": 200, "subword": 100}
    parser = build_parser()
    generate = parser._subparsers._group_actions[0].choices["generate"]
    help = " ".join(generate.format_help().split())
    assert ("(default: 200 for character models, 100 for subword ones)"
            in help)


def test_ctrl_c_is_one_line(monkeypatch, capsys):
    from tfzoo.cli import main
    from tfzoo.cli import plot as plot_command

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(plot_command, "plot", interrupted)
    assert main(["plot", "--run", "runs/any"]) == 130
    assert capsys.readouterr().err == "\ntfzoo: interrupted\n"


def test_ctrl_c_says_where_the_same_command_goes_on(tmp_path, monkeypatch,
                                                   capsys):
    from tfzoo.cli import main
    from tfzoo.cli import train as train_command

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_command, "train", interrupted)
    run = str(tmp_path / "run")
    argv = ["train", "--data", "any.txt", "--out", run]
    assert main(argv) == 130
    assert capsys.readouterr().err == ("\ntfzoo: interrupted; no epoch had "
                                       "ended: the same command starts the "
                                       "run again\n")
    monkeypatch.setattr(train_command, "backup_epoch", lambda run_dir: 2)
    os.makedirs(run)
    assert main(argv) == 130
    assert capsys.readouterr().err.endswith(
        "; the same command resumes the run at epoch 3\n")
    assert main([*argv, "--overwrite"]) == 130
    assert capsys.readouterr().err.endswith(
        "; the same command starts the run again (leave out --overwrite to "
        "resume it at epoch 3)\n")
    open(os.path.join(run, "model.keras"), "w").close()
    assert main(argv) == 130
    assert capsys.readouterr().err.endswith("; the run is complete\n")


@pytest.mark.slow  # about 50 s; test_ctrl_c_is_one_line runs by default
def test_ctrl_c_is_one_line_and_the_run_resumes(tmp_path, text_file,
                                                capsys):
    import signal

    from tests.test_cli import QUICK
    from tfzoo.cli import main

    run = str(tmp_path / "run")
    argv = ["train", "--model", "gpt", "--preset", "gpt-tiny", "--data",
            text_file, "--steps", "20", "--steps-per-epoch", "5",
            "--no-xla", "--out", run, *QUICK]
    training = subprocess.Popen(
        [sys.executable, "-m", "tfzoo.cli", *argv], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    for line in training.stdout:  # epoch 3 starts: epoch 2 is backed up
        if line.startswith("Epoch 3/"):
            break
    os.killpg(training.pid, signal.SIGINT)  # Ctrl+C, filter included
    _, err = training.communicate(timeout=120)
    assert training.returncode == 130
    assert "Traceback" not in err
    # Epoch 3 is short: on a loaded machine its backup may be done too.
    said = err.strip().splitlines()[-1]
    assert said.startswith(
        "tfzoo: interrupted; the same command resumes the run at epoch ")
    epoch = said.split()[-1]
    capsys.readouterr()
    assert main(argv) == 0
    assert f"Resuming {run} at epoch {epoch}." in capsys.readouterr().out
