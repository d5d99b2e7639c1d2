"""Progress on the console: of the long steps that are not `model.fit`
(`ProgressBars`), of waits that have no count to show (`announce`), and
of `model.fit` itself (`TrainingProgress`).

On a terminal both draw Keras progress bars. Written to a file, a CI log
or `nohup` (the stream is not a terminal), they write plain lines instead:
no colour codes and no carriage returns, one line every `PLAIN_INTERVAL`
seconds and one at the end of each epoch or stage.
"""

import contextlib
import io
import re
import statistics
import sys
import threading
import time

import keras

from tfzoo import console

PLAIN_INTERVAL = 30.0  # seconds between the plain lines of a non-terminal
BAR_DELAY = 1.0  # seconds before a stage of `ProgressBars` shows a bar
# Seconds before a wait with nothing to count says what it is (`announce`):
# long enough that a refusal found in the first seconds stays one line.
ANNOUNCE_DELAY = 3.0
# A training step this much slower than the median of the steps before
# it, and over `SLOW_STEP_SECONDS`, compiled a new shape (or waited for
# something else): the time left leaves it out.
SLOW_STEP_FACTOR = 5.0
SLOW_STEP_SECONDS = 1.0
_TERMINAL_CONTROL = re.compile(r"\x1b\[[0-9;]*m|[\b\r]")
# Keras' bar, which says nothing once its colours are gone (its done and
# to-do parts are the same character).
_BAR = re.compile(r" [\u2501=.>]{10,} ")


def is_terminal(stream):
    """Whether `stream` (`sys.stdout` or `sys.stderr`) reaches a terminal.
    For stderr this is the terminal before `tfzoo.console` piped it into
    its filter."""
    if stream is sys.stderr or stream is sys.__stderr__:
        return console.stderr_is_terminal()
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _Progbar(keras.utils.Progbar):
    """`keras.utils.Progbar` whose time left leaves out the steps given to
    `exclude` (compilation), and which, unless `interactive`, writes plain
    lines at most every `PLAIN_INTERVAL` seconds (and at the end)."""

    def __init__(self, target, interactive, **kwargs):
        if not interactive:
            kwargs["interval"] = PLAIN_INTERVAL
        super().__init__(target, **kwargs)
        self.interactive = interactive
        self._dynamic_display = interactive
        self.excluded_steps = 0
        self.excluded_seconds = 0.0

    def exclude(self, steps, seconds):
        """Leaves `steps` steps that took `seconds` out of the time left."""
        self.excluded_steps += steps
        self.excluded_seconds += seconds

    def _estimate_step_duration(self, current, now):
        counted = current - self.excluded_steps
        if not self.excluded_steps or counted <= 0:
            return super()._estimate_step_duration(current, now)
        return max(now - self._start - self.excluded_seconds, 0.0) / counted

    def update(self, current, values=None, finalize=None):
        last = self.target is not None and current >= self.target
        if current <= self.excluded_steps and not (finalize or last):
            return  # no time left to show before a step that counts
        if self.interactive:
            return super().update(current, values, finalize)
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            super().update(current, values, finalize)
        text = _BAR.sub(" ", _TERMINAL_CONTROL.sub("", buffer.getvalue())
                        ).strip("\n")
        if text:
            print(text, flush=True)


class ProgressBars:
    """A `progress(stage, done, total)` callback for long steps: a stage
    that lasts `BAR_DELAY` seconds or more shows as a progress bar on
    stderr (counts, rate and time left; plain lines if stderr is not a
    terminal) and ends with a line that gives its duration; a shorter one
    shows nothing. stdout is left to the results.

    Args:
        units: dict from stage to the plural unit of its counts (default
            `"steps"`).
        verbose: bool; `False` shows nothing.
        delay: seconds before a stage shows (`BAR_DELAY`).
        interactive: bool, a bar redrawn in place; `None`: whether stderr
            is a terminal.

    Example:
    >>> progress = ProgressBars({"counting words": "texts"})
    >>> for done in range(0, 25001, 1000):
    ...     progress("counting words", done, 25000)
    counting words: 25,000 texts in 41.2 s
    """

    def __init__(self, units=None, verbose=True, delay=BAR_DELAY,
                 interactive=None):
        self.units = dict(units or {})
        self.verbose = verbose
        self.delay = delay
        self.interactive = interactive
        self.stage = None

    def __call__(self, stage, done, total):
        if not self.verbose or total <= 0:
            return
        now = time.perf_counter()
        if stage != self.stage:
            self.stage, self.start, self.bar = stage, now, None
            for announcement in _open_announcements:  # the bar says it
                announcement.silence()
        unit = self.units.get(stage, "steps")
        with contextlib.redirect_stdout(sys.stderr):
            if self.bar is None and done < total and (
                    now - self.start >= self.delay):
                print(f"{stage}:")
                interactive = self.interactive
                if interactive is None:
                    interactive = is_terminal(sys.stderr)
                self.bar = _Progbar(total, interactive,
                                    unit_name=_singular(unit))
                self.bar._start -= now - self.start  # the stage's start
            if self.bar is not None:
                self.bar.target = total  # a stage may end sooner
                self.bar.update(done)
        if done >= total:
            seconds = now - self.start
            if self.bar is not None or seconds >= self.delay:
                print(f"{stage}: {done:,} {unit} in {seconds:.1f} s",
                      file=sys.stderr)
            self.stage = None


class _Announcement:
    """Writes `text` with `write` from a timer thread once `delay` seconds
    have passed, unless `end()` came first; `end()` then writes `closing`
    with the wait's duration. See `announce`."""

    def __init__(self, text, closing, delay, write):
        self.text, self.closing, self.write = text, closing, write
        self.lock = threading.Lock()
        self.shown = self.ended = False
        self.start = time.perf_counter()
        self.timer = threading.Timer(delay, self._show)
        self.timer.daemon = True
        self.timer.start()

    def _show(self):
        with self.lock:
            if not self.ended:
                self.shown = True
                self.write(self.text)

    def end(self, closing=True):
        """Ends the wait (once; later calls do nothing), with the closing
        line if the wait was shown and `closing`."""
        self.timer.cancel()
        with self.lock:
            if not self.ended and self.shown and closing:
                self.write(self.closing.format(
                    seconds=time.perf_counter() - self.start))
            self.ended = True

    def silence(self):
        """Ends the wait without a word, unless it has been shown."""
        with self.lock:
            if not self.shown:
                self.ended = True
                self.timer.cancel()


_open_announcements = []  # of `announce`, innermost last


@contextlib.contextmanager
def announce(phase, delay=ANNOUNCE_DELAY, verbose=True):
    """Says on stderr what a wait is, once it has lasted `delay` seconds:
    `phase...` while it runs, then `phase: 12.3 s` when it ends (nothing
    more if it raises). A wait shorter than `delay` shows nothing, and so
    does one inside which `ProgressBars` starts a stage (its bar says what
    the wait is). For the steps with no count to show (reading files,
    building a model, saving).

    Args:
        phase: str, what the wait is, e.g. "building the model".
        delay: float, seconds before the line shows.
        verbose: bool; `False` shows nothing.

    Example:
    >>> with announce("building the model"):
    ...     model = build_model(...)
    building the model...
    building the model: 4.2 s
    """
    if not verbose:
        yield
        return
    announcement = _Announcement(f"{phase}...\n",
                                 f"{phase}: {{seconds:.1f}} s\n", delay,
                                 _write_stderr)
    _open_announcements.append(announcement)
    try:
        yield
    except BaseException:
        announcement.end(closing=False)  # the error says what happened
        raise
    else:
        announcement.end()
    finally:
        _open_announcements.remove(announcement)


class TrainingProgress(keras.callbacks.ProgbarLogger):
    """`model.fit`'s progress bar (given to `fit` in its callbacks, it
    replaces Keras' own), which also:

    - says before step 1 that the training step is being compiled, and
      then how long step 1 took, compilation included;
    - leaves step 1 and any step slower than `SLOW_STEP_FACTOR` times the
      median step (and over `SLOW_STEP_SECONDS`) out of the time left;
      if `slow_step` is given (e.g. "compiling a new length bucket"), a
      step that has run that long says so while it runs, and then how
      long it took;
    - writes plain lines, every `PLAIN_INTERVAL` seconds and at each
      epoch's end, when stdout is not a terminal (`interactive`);
    - counts an epoch that `last_step` cuts short to the steps it will
      run, not to the epoch's.

    Args:
        slow_step: str or `None`; what a slow step is doing.
        interactive: bool or `None` (whether stdout is a terminal).
        last_step: int or `None`; the step (counted from the run's start,
            1-based) after which training stops, e.g. `--steps`.
    """

    def __init__(self, slow_step=None, interactive=None, last_step=None):
        super().__init__()
        self.slow_step = slow_step
        self.interactive = interactive
        self.last_step = last_step
        self.steps_per_epoch = None
        self.compiled = False
        self.step_seconds = []  # of the steps that compiled nothing
        self.announcement = None  # of the step running, if it may be slow

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.interactive is None:
            self.interactive = is_terminal(sys.stdout)

    def set_params(self, params):
        super().set_params(params)
        self.steps_per_epoch = params["steps"]

    def on_epoch_begin(self, epoch, logs=None):
        if self.last_step is not None and self.steps_per_epoch:
            self.target = max(1, min(
                self.steps_per_epoch,
                self.last_step - epoch * self.steps_per_epoch))
        super().on_epoch_begin(epoch, logs)

    def _maybe_init_progbar(self):
        if self.progbar is None:
            self.progbar = _Progbar(
                self.target, self.interactive is not False,
                verbose=self.verbose, unit_name="step",
                stateless_metrics=set())

    def on_train_batch_begin(self, batch, logs=None):
        self.step_start = time.perf_counter()
        self.announcement = None
        if not self.compiled and self.verbose == 1:
            _write("compiling the training step (step 1 waits for it)... ")
        elif self.slow_step and self.verbose == 1 and self.step_seconds:
            median = statistics.median(self.step_seconds[-100:])
            self.announcement = _Announcement(
                ("\n" if self.interactive else "")
                + f"step {batch + 1}: {self.slow_step}...\n",
                f"step {batch + 1} took {{seconds:.1f}} s\n",
                max(SLOW_STEP_SECONDS, SLOW_STEP_FACTOR * median), _write)

    def on_train_batch_end(self, batch, logs=None):
        seconds = time.perf_counter() - self.step_start
        if self.announcement is not None:
            self.announcement.end()
        self._maybe_init_progbar()
        steps = batch + 1 - self.seen  # more than 1 with steps_per_execution
        if not self.compiled:
            self.compiled = True
            self.progbar.exclude(steps, seconds)
            if self.verbose == 1:
                _write(f"step 1 took {seconds:.1f} s\n")
        elif self.is_slow(seconds):
            self.progbar.exclude(steps, seconds)
        else:
            self.step_seconds.append(seconds / max(steps, 1))
        super().on_train_batch_end(batch, logs)

    def _finalize_progbar(self, logs):
        # An epoch stopped early (`--steps` inside an epoch) ends at the
        # steps it ran, not at the steps it was given.
        if self.model is not None and self.model.stop_training and (
                self.target is not None and self.seen < self.target):
            self.target = self.seen
            self.progbar.target = self.seen
        super()._finalize_progbar(logs)

    def close(self):
        """Ends the announcement of a step that raised (`model.fit` then
        calls no `on_train_batch_end`), without a closing line."""
        if self.announcement is not None:
            self.announcement.end(closing=False)

    def is_slow(self, seconds):
        """Whether a step of `seconds` compiled (see the class docstring)."""
        if seconds < SLOW_STEP_SECONDS or not self.step_seconds:
            return False
        recent = self.step_seconds[-100:]
        return seconds > SLOW_STEP_FACTOR * statistics.median(recent)


def _write(text):
    sys.stdout.write(text)
    sys.stdout.flush()


def _write_stderr(text):
    sys.stderr.write(text)
    sys.stderr.flush()


def _singular(unit):
    """"tries" -> "try", "texts" -> "text"."""
    if unit.endswith("ies"):
        return unit[:-3] + "y"
    return unit[:-1] if unit.endswith("s") else unit
