"""`tfzoo.progress`: progress of long steps on stderr, and of training."""

import re
import time

import numpy as np

from tfzoo import progress as progress_module
from tfzoo.progress import ProgressBars, TrainingProgress, _Progbar, announce


def test_progress_bars_close_each_stage_with_its_duration(capsys):
    bars = ProgressBars({"counting words": "texts", "learning": "tries"},
                        delay=0, interactive=True)
    for done in range(4):
        bars("counting words", done, 3)
    bars("learning", 0, 9)
    bars("learning", 5, 5)  # the stage ended sooner than it might have
    bars("scoring", 2, 2)
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout is for results
    closing = [line for line in captured.err.splitlines()
               if " in " in line and line.endswith(" s")]
    assert [line.split(" in ")[0] for line in closing] == [
        "counting words: 3 texts", "learning: 5 tries", "scoring: 2 steps"]
    assert "/try" in captured.err  # the bar's unit, singular
    ProgressBars(verbose=False)("scoring", 1, 1)
    assert capsys.readouterr().err == ""


def test_a_stage_under_a_second_shows_nothing(capsys):
    bars = ProgressBars({"tokenizing": "characters"})
    for done in (0, 500_000, 1_000_000):
        bars("tokenizing", done, 1_000_000)
    assert capsys.readouterr().err == ""


def test_plain_lines_without_terminal_codes(capsys):
    bars = ProgressBars({"scoring": "windows"}, delay=0, interactive=False)
    for done in range(0, 1001):
        bars("scoring", done, 1000)
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err and "\b" not in err
    # the header, the first update, the last one and the duration
    assert len(err.splitlines()) <= 4, err


def test_the_time_left_leaves_out_compiling_steps():
    bar = _Progbar(100, interactive=True)
    bar._start = 0.0
    bar.exclude(1, 50.0)  # step 1 compiled for 50 s
    assert bar._estimate_step_duration(11, 60.0) == 1.0


def test_a_step_far_slower_than_the_median_is_slow():
    progress = TrainingProgress()
    assert not progress.is_slow(30.0)  # nothing to compare with yet
    progress.step_seconds = [0.1] * 10
    assert progress.is_slow(1.5) and not progress.is_slow(0.4)
    progress.step_seconds = [0.01] * 10
    assert not progress.is_slow(0.9)  # under a second


def test_training_progress_written_to_a_file_is_plain_lines(capsys):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.zeros((40, 2), "float32")
    model.fit(x, x[:, :1], batch_size=4, epochs=2, verbose=1,
              callbacks=[TrainingProgress(interactive=False)])
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out and "\b" not in out
    assert "\u2501" not in out  # the bar: nothing to see without colours
    lines = out.splitlines()
    assert lines[0].startswith("Epoch 1/2")
    assert lines[1].startswith("compiling the training step")
    assert " step 1 took " in lines[1]
    # per epoch: its name, its first step with a time left (not step 1 of
    # the first epoch, which compiled), its last (10 steps in under 30 s)
    assert [line.split()[0] for line in lines[2:]] == [
        "2/10", "10/10", "Epoch", "1/10", "10/10"], out


def test_a_wait_says_what_it_is_once_it_lasts(capsys):
    with announce("building the model", delay=0.05):
        time.sleep(0.3)
    with announce("saving the model", delay=0.5):
        pass  # too short to show
    with announce("reading the data", delay=0.0, verbose=False):
        time.sleep(0.05)
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout is for results
    lines = captured.err.splitlines()
    assert lines[0] == "building the model..."
    seconds = re.fullmatch(r"building the model: (\d+\.\d) s", lines[1])
    assert seconds and float(seconds.group(1)) >= 0.3
    assert len(lines) == 2, lines


def test_a_slow_step_says_what_it_does_before_it_ends(capsys, monkeypatch):
    import keras

    class SlowSeventhStep(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 6:
                time.sleep(1.0)

    monkeypatch.setattr(progress_module, "SLOW_STEP_SECONDS", 0.3)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.zeros((40, 2), "float32")
    model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=1, callbacks=[
        TrainingProgress("compiling a new length bucket", interactive=False),
        SlowSeventhStep()])
    lines = capsys.readouterr().out.splitlines()
    notice = lines.index("step 7: compiling a new length bucket...")
    took = re.fullmatch(r"step 7 took (\d+\.\d) s", lines[notice + 1])
    assert took and float(took.group(1)) >= 1.0
    assert sum("compiling a new length bucket" in line
               for line in lines) == 1


def test_a_wait_with_a_bar_or_an_error_says_no_more(capsys):
    with announce("encoding the data", delay=0.05):
        ProgressBars(delay=10)("tokenizing", 0, 100)  # the bar says it
        time.sleep(0.2)
    try:
        with announce("reading the data", delay=0.05):
            time.sleep(0.2)
            raise ValueError("bad row")
    except ValueError:
        pass
    assert capsys.readouterr().err == "reading the data...\n"


def test_an_epoch_stopped_early_ends_at_the_steps_it_ran(capsys):
    import keras

    class StopAfterThree(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.zeros((40, 2), "float32")
    model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=1, callbacks=[
        StopAfterThree(), TrainingProgress(interactive=False)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("3/3 "), lines


def test_an_epoch_cut_short_by_the_last_step_counts_to_it(capsys):
    # --steps 13 with epochs of 10 steps: epoch 2's bar counts to 3 (its
    # time left too), not to 10.
    import keras

    from tfzoo.training.lifecycle import StopAtStep

    targets = []

    class Targets(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            targets.append(progress.progbar.target)

    progress = TrainingProgress(interactive=False, last_step=13)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.zeros((40, 2), "float32")
    model.fit(x, x[:, :1], batch_size=4, epochs=2, verbose=1,
              callbacks=[StopAtStep(13), progress, Targets()])
    assert targets == [10] * 10 + [3] * 3
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("3/3 "), lines
