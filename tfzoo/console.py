"""The terminal: library chatter kept off it, progress shown on it.

TensorFlow's C++ runtime, absl and SentencePiece write log lines straight
to file descriptor 2, below Python, and some of them ignore
`TF_CPP_MIN_LOG_LEVEL` (`cudart_stub.cc ... Could not find cuda drivers`,
`normalizer.cc ... LOG(INFO)`, absl's "All log messages before
absl::InitializeLog()"). `quiet_native_logs` runs a command with file
descriptor 2 read by a thread that passes every line on to the terminal
except those log lines below the level `TF_CPP_MIN_LOG_LEVEL` asks for
and, unless it is 0, the lines that only say the machine has no GPU (the
`tfzoo` command sets 2: Python's warnings and errors and TensorFlow's own
errors still show).
"""

import contextlib
import os
import re
import sys
import threading
import time

# absl/glog lines: "I0000 00:00:1796026898.577 11799 port.cc:153] ...".
_NATIVE_LOG = re.compile(rb"^([IWEF])\d{4} [\d:.]+\s+\d+ [\w.\-/]+:\d+\]")
# SentencePiece's own: "normalizer.cc(51) LOG(INFO) precompiled_charsmap...".
_SENTENCEPIECE_LOG = re.compile(rb"^[\w.\-/]+\.cc\(\d+\) LOG\(([IWEF])")
_SEVERITIES = b"IWEF"  # index = the TF_CPP_MIN_LOG_LEVEL that keeps it
_ABSL_PREAMBLE = (b"WARNING: All log messages before absl::InitializeLog() "
                  b"is called are written to STDERR")
# Native lines that say only that this machine has no GPU (tfzoo's banner
# names the devices it trains on): dropped unless TF_CPP_MIN_LOG_LEVEL=0.
_NO_GPU = re.compile(rb"(cudart_stub|cuda_platform|cuda_executor|"
                     rb"cuda_diagnostics)\.cc:\d+\]")


def is_chatter(line, min_level):
    """Whether a line written to stderr is a native log line below
    `min_level` (0: info and up are kept, 1: warnings, 2: errors, 3: fatal
    only)."""
    if line.startswith(_ABSL_PREAMBLE):
        return min_level > 0
    match = _NATIVE_LOG.match(line) or _SENTENCEPIECE_LOG.match(line)
    if not match:
        return False
    return (_SEVERITIES.index(match.group(1)) < min_level
            or (min_level > 0 and bool(_NO_GPU.search(line))))


@contextlib.contextmanager
def quiet_native_logs():
    """Filters file descriptor 2 (see the module docstring) while the
    `with` block runs; everything else written there reaches the terminal
    unchanged, line by line, before the block ends."""
    min_level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") or 0)
    if min_level == 0:
        yield
        return
    sys.stderr.flush()
    terminal = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward():
        with os.fdopen(read_end, "rb") as lines:
            for line in lines:
                if not is_chatter(line, min_level):
                    os.write(terminal, line)

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)  # closes the pipe's last write end
        thread.join(timeout=5)
        os.close(terminal)


class ProgressBars:
    """A `progress(stage, done, total)` callback for long steps: each stage
    shows as a Keras progress bar on stderr (counts, rate and time left)
    and ends with a line that gives its duration. Keras is imported on the
    first call, so that this module stays light.

    Args:
        units: dict from stage to the unit of its counts (default
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
        import keras

        unit = self.units.get(stage, "steps")
        with contextlib.redirect_stdout(sys.stderr):  # stdout: results
            if stage != self.stage:
                self.stage, self.start = stage, time.perf_counter()
                print(f"{stage}:")
                self.bar = keras.utils.Progbar(total, unit_name=unit[:-1])
            self.bar.target = total  # a stage may end sooner than planned
            self.bar.update(done)
        if done >= total:
            seconds = time.perf_counter() - self.start
            print(f"{stage}: {done:,} {unit} in {seconds:.1f} s",
                  file=sys.stderr)
            self.stage = None
