"""`tfzoo.console`: native library chatter kept off the terminal."""

import os
import subprocess
import sys
import textwrap

import pytest

from tfzoo.console import ProgressBars, is_chatter

CUDART = (b"I0000 00:00:1796026898.577777   11799 cudart_stub.cc:31] Could "
          b"not find cuda drivers on your machine, GPU will not be used.\n")
CUINIT = (b"E0000 00:00:1796026947.556455   12072 cuda_platform.cc:52] failed "
          b"call to cuInit: INTERNAL: CUDA error\n")
NORMALIZER = (b"normalizer.cc(51) LOG(INFO) precompiled_charsmap is empty. "
              b"use identity normalization.\n")
OTHER_ERROR = (b"E0000 00:00:1796026947.5   12072 op_kernel.cc:1830] "
               b"OP_REQUIRES failed\n")
ABSL = (b"WARNING: All log messages before absl::InitializeLog() is called "
        b"are written to STDERR\n")


@pytest.mark.parametrize("line, level, expected", [
    (CUDART, 3, True), (CUDART, 2, True), (CUDART, 0, False),
    (CUINIT, 2, True), (CUINIT, 0, False),
    (NORMALIZER, 1, True), (NORMALIZER, 0, False),
    (OTHER_ERROR, 2, False), (OTHER_ERROR, 3, True),
    (ABSL, 2, True), (ABSL, 0, False),
    (b"tfzoo: error: no such file\n", 3, False),
    (b"Traceback (most recent call last):\n", 3, False),
])
def test_is_chatter(line, level, expected):
    assert is_chatter(line, level) is expected


def test_native_lines_are_filtered_and_the_rest_passes(tmp_path):
    # What C++ code writes to file descriptor 2, and Python's own stderr.
    script = textwrap.dedent(f"""
        import os, sys
        from tfzoo.console import quiet_native_logs
        with quiet_native_logs():
            os.write(2, {CUDART!r} + {ABSL!r})
            os.write(2, b"kept: a native line\\n")
            print("kept: python", file=sys.stderr)
        print("after", file=sys.stderr)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0
    assert result.stderr == "kept: a native line\nkept: python\nafter\n"


def test_progress_bars_close_each_stage_with_its_duration(capsys):
    bars = ProgressBars({"counting words": "texts", "learning": "tries"})
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
    ProgressBars(verbose=False)("scoring", 1, 1)
    assert capsys.readouterr().err == ""
