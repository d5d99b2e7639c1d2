"""Progress bars for the long steps that are not `model.fit`.

`ProgressBars` is a `progress(stage, done, total)` callback: the steps
that can take long (learning a WordPiece vocabulary, `tfzoo eval`'s
scoring, classifying and translating) report to it, and it shows each
stage as a Keras progress bar on stderr, closed with a line that gives the
stage's duration.
"""

import contextlib
import sys
import time

import keras


class ProgressBars:
    """A `progress(stage, done, total)` callback for long steps: each stage
    shows as a Keras progress bar on stderr (counts, rate and time left)
    and ends with a line that gives its duration; stdout is left to the
    results.

    Args:
        units: dict from stage to the plural unit of its counts (default
            `"steps"`).
        verbose: bool; `False` shows nothing.

    Example:
    >>> progress = ProgressBars({"counting words": "texts"})
    >>> for done in range(0, 25001, 1000):
    ...     progress("counting words", done, 25000)
    counting words: 25,000 texts in 41.2 s
    """

    def __init__(self, units=None, verbose=True):
        self.units = dict(units or {})
        self.verbose = verbose
        self.stage = None

    def __call__(self, stage, done, total):
        if not self.verbose or total <= 0:
            return
        unit = self.units.get(stage, "steps")
        with contextlib.redirect_stdout(sys.stderr):
            if stage != self.stage:
                self.stage, self.start = stage, time.perf_counter()
                print(f"{stage}:")
                self.bar = keras.utils.Progbar(total,
                                               unit_name=_singular(unit))
            self.bar.target = total  # a stage may end sooner than planned
            self.bar.update(done)
        if done >= total:
            seconds = time.perf_counter() - self.start
            print(f"{stage}: {done:,} {unit} in {seconds:.1f} s",
                  file=sys.stderr)
            self.stage = None


def _singular(unit):
    """"tries" -> "try", "texts" -> "text"."""
    if unit.endswith("ies"):
        return unit[:-3] + "y"
    return unit[:-1] if unit.endswith("s") else unit
