"""Keep library chatter a user cannot act on off the terminal.

TensorFlow's C++ runtime, absl and SentencePiece write log lines straight
to file descriptor 2, below Python, and some of them ignore
`TF_CPP_MIN_LOG_LEVEL` (`cudart_stub.cc ... Could not find cuda drivers`,
`normalizer.cc ... LOG(INFO)`, absl's "All log messages before
absl::InitializeLog()"). `quiet_native_logs` runs a command with file
descriptor 2 piped into a small filter process (`python -m
tfzoo.console`), which passes everything on to the terminal as it comes,
progress bars included, except:

- native log lines below the level `TF_CPP_MIN_LOG_LEVEL` asks for (the
  `tfzoo` command sets 2: warnings and errors of Python and TensorFlow's
  own errors still show), and,
- unless it is 0, the error lines that are no error: those that only say
  this machine has no GPU (tfzoo's banner names the devices it trains
  on), and oneDNN's note that an int64 op runs on TensorFlow's kernel.

A fatal line (`F...`) always passes. The filter is a process of its own,
so it drains the pipe even after the command crashes, and its last lines
still reach the terminal.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys

# absl/glog lines: "I0000 00:00:1796026898.577 11799 port.cc:153] ...".
_NATIVE_LOG = re.compile(rb"^([IWEF])\d{4} [\d:.]+\s+\d+ [\w.\-/]+:\d+\]")
# SentencePiece's own: "normalizer.cc(51) LOG(INFO) precompiled_charsmap...".
_SENTENCEPIECE_LOG = re.compile(rb"^[\w.\-/]+\.cc\(\d+\) LOG\(([IWEF])")
_SEVERITIES = b"IWEF"  # index = the TF_CPP_MIN_LOG_LEVEL that keeps it
_ABSL_PREAMBLE = (b"WARNING: All log messages before absl::InitializeLog() "
                  b"is called are written to STDERR")
# Error lines that are no error: what a machine without a GPU (or its
# driver) is told at every start, and oneDNN saying that it leaves an
# int64 op (a classifier's token ids) to TensorFlow's own kernel.
_NO_ERROR = re.compile(
    rb"Could not find cuda drivers on your machine|"
    rb"failed call to cuInit: .*UNKNOWN ERROR \(303\)|"
    rb"kernel driver does not appear to be running on this host|"
    rb"no NVIDIA GPU device is present|"
    rb"oneDNN supports DT_INT64 only on platforms with AVX-512\. Falling "
    rb"back to the default Eigen-based implementation")
# A line that has not ended yet is held back only while it may still turn
# out to be one of the above; anything else (a progress bar redrawn with
# "\r") passes at once.
_MAYBE_CHATTER = re.compile(rb"^([IWEF]\d|WARNING: All|[\w.\-/]+\.cc\()")
# Where a native line starts inside another: native code writes its lines
# whole, but one can land after the start of a line Python has not ended
# yet ("compiling the training step... ", a bar redrawn with "\r"), and the
# filter can read both in one go. (A file name glued to the text before it
# takes that text's last word with it.)
_NATIVE_START = re.compile(rb"[IWEF]\d{4} |WARNING: All log messages before "
                           rb"absl|[\w.\-/]+\.cc\(\d+\) LOG")


def is_chatter(line, min_level):
    """Whether a line written to stderr is a native log line to drop at
    `min_level` (0: info and up are kept, 1: warnings and up, 2: errors and
    up, 3: fatal only; see the module docstring)."""
    if line.startswith(_ABSL_PREAMBLE):
        return min_level > 0
    match = _NATIVE_LOG.match(line) or _SENTENCEPIECE_LOG.match(line)
    if not match or match.group(1) == b"F":
        return False
    return (_SEVERITIES.index(match.group(1)) < min_level
            or (min_level > 0 and bool(_NO_ERROR.search(line))))


def without_chatter(line, min_level):
    """`line` (one line, its newline included) less the chatter in it: the
    whole line if it is chatter (`is_chatter`), or the part from where a
    chatter line starts inside it (see `_NATIVE_START`)."""
    if is_chatter(line, min_level):
        return b""
    for match in _NATIVE_START.finditer(line, 1):
        if is_chatter(line[match.start():], min_level):
            return line[:match.start()]
    return line


def min_log_level():
    """`TF_CPP_MIN_LOG_LEVEL` as an int from 0 to 3 (0 if unset or not a
    number)."""
    value = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0").strip()
    return min(max(int(value), 0), 3) if value.isdigit() else 0


_stderr_terminal = None  # whether fd 2 was a terminal before the filter


def stderr_is_terminal():
    """Whether stderr reaches a terminal: while `quiet_native_logs` pipes
    it into the filter, whether it did before."""
    if _stderr_terminal is not None:
        return _stderr_terminal
    try:
        return os.isatty(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def quiet_native_logs():
    """Filters file descriptor 2 (see the module docstring) while the
    `with` block runs. Nothing is filtered at `TF_CPP_MIN_LOG_LEVEL=0`, or
    if the filter process cannot start."""
    level = min_log_level()
    if level == 0:
        yield
        return
    global _stderr_terminal
    sys.stderr.flush()
    terminal = os.dup(2)
    _stderr_terminal = os.isatty(terminal)
    try:
        filter_process = subprocess.Popen(
            [sys.executable, "-m", "tfzoo.console", str(level)],
            stdin=subprocess.PIPE, stdout=terminal, close_fds=True)
    except OSError:
        os.close(terminal)
        _stderr_terminal = None
        yield
        return
    os.dup2(filter_process.stdin.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)  # the pipe's last write end is now ours only
        os.close(terminal)
        _stderr_terminal = None
        filter_process.stdin.close()  # end of input: it drains and exits
        try:
            filter_process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            filter_process.kill()


def filter_lines(min_level, source=0, target=1):
    """Copies `source` to `target` as it comes, without the chatter lines
    (`is_chatter`): the filter process's loop."""
    pending = b""
    while True:
        try:
            data = os.read(source, 65536)
        except InterruptedError:
            continue
        if not data:
            break
        *lines, pending = (pending + data).split(b"\n")
        out = b"".join(without_chatter(line + b"\n", min_level)
                       for line in lines)
        if pending and not _MAYBE_CHATTER.match(pending):
            out, pending = out + pending, b""
        _write(target, out)
    _write(target, without_chatter(pending, min_level))


def _write(target, data):
    """Writes all of `data`; a terminal that is gone is ignored (the input
    is still drained, so the command never blocks on a full pipe)."""
    while data:
        try:
            data = data[os.write(target, data):]
        except InterruptedError:
            continue
        except OSError:
            return


if __name__ == "__main__":
    # Ctrl+C reaches every process of the terminal's group: the command
    # answers it, and the filter goes on until the command's last line.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    filter_lines(int(sys.argv[1]))
