"""`tfzoo.console`: native library chatter kept off the terminal."""

import os
import subprocess
import sys
import textwrap

import pytest

from tfzoo.console import is_chatter, without_chatter

CUDART = (b"I0000 00:00:1796026898.577777   11799 cudart_stub.cc:31] Could "
          b"not find cuda drivers on your machine, GPU will not be used.\n")
CUINIT = (b"E0000 00:00:1796026947.556455   12072 cuda_platform.cc:52] failed "
          b"call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: "
          b"UNKNOWN ERROR (303)\n")
# A real driver error on a machine with a GPU: kept.
DRIVER = (b"E0000 00:00:1796026947.556455   12072 cuda_platform.cc:52] failed "
          b"call to cuInit: CUDA_ERROR_SYSTEM_DRIVER_MISMATCH\n")
FATAL = (b"F0000 00:00:1796026947.5   12072 cuda_executor.cc:1] Check "
         b"failed: Could not find cuda drivers on your machine\n")
NORMALIZER = (b"normalizer.cc(51) LOG(INFO) precompiled_charsmap is empty. "
              b"use identity normalization.\n")
OTHER_ERROR = (b"E0000 00:00:1796026947.5   12072 op_kernel.cc:1830] "
               b"OP_REQUIRES failed\n")
ABSL = (b"WARNING: All log messages before absl::InitializeLog() is called "
        b"are written to STDERR\n")
# Seen on every classifier's training and `classify`.
ONEDNN_INT64 = (b"E0000 00:00:1796545315.443491   17990 util.cc:131] oneDNN "
                b"supports DT_INT64 only on platforms with AVX-512. Falling "
                b"back to the default Eigen-based implementation if "
                b"present.\n")


@pytest.mark.parametrize("line, level, expected", [
    (CUDART, 3, True), (CUDART, 2, True), (CUDART, 0, False),
    (CUINIT, 2, True), (CUINIT, 0, False),
    (NORMALIZER, 1, True), (NORMALIZER, 0, False),
    (OTHER_ERROR, 2, False), (OTHER_ERROR, 3, True),
    (DRIVER, 2, False), (FATAL, 3, False),
    (ABSL, 2, True), (ABSL, 0, False),
    (ONEDNN_INT64, 2, True), (ONEDNN_INT64, 0, False),
    (b"tfzoo: error: no such file\n", 3, False),
    (b"Traceback (most recent call last):\n", 3, False),
])
def test_is_chatter(line, level, expected):
    assert is_chatter(line, level) is expected


@pytest.mark.parametrize("start", [
    b"compiling the training step (step 1 waits for it)... ",
    b"\r 2/3 [=======...] - 2s ", b"word:"])
def test_a_native_line_after_an_unfinished_line_is_dropped(start):
    # Seen in a translation run written to a file: SentencePiece's line
    # came after "compiling the training step... ", in one read.
    for chatter in (NORMALIZER, CUINIT, CUDART, ABSL):
        assert without_chatter(start + chatter, 2) == start
    assert without_chatter(start + OTHER_ERROR, 2) == start + OTHER_ERROR
    assert without_chatter(start + NORMALIZER, 0) == start + NORMALIZER


def test_an_unfinished_line_keeps_its_end(tmp_path):
    result = run_quietly(f"""
        sys.stderr.write("compiling the training step... ")
        sys.stderr.flush()
        os.write(2, {NORMALIZER!r})
        print("step 1 took 18.9 s", file=sys.stderr)
    """)
    assert result.stderr == b"compiling the training step... step 1 took 18.9 s\n"


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


def run_quietly(body, level="2"):
    """Runs `body` (Python lines) under `quiet_native_logs` in a fresh
    process; returns it, finished."""
    script = ("import os, sys, time\n"
              "from tfzoo.console import quiet_native_logs\n"
              "with quiet_native_logs():\n"
              + textwrap.indent(textwrap.dedent(body), "    "))
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": level}, timeout=60)


def test_a_progress_bar_passes_before_its_line_ends():
    # A bar redrawn with "\r" has no newline until it is done; a crash
    # right after must not lose it, nor the fatal line before it.
    result = run_quietly("""
        os.write(2, b"\\r 1/3 [=====.....] - 1s")
        os.write(2, b"F0000 00:00:1.5   1 check.cc:3] Check failed\\n")
        os.write(2, b"\\r 2/3 [=======...] - 2s")
        time.sleep(0.5)
        os.abort()
    """)
    assert result.returncode != 0
    assert result.stderr == (b"\r 1/3 [=====.....] - 1s"
                             b"F0000 00:00:1.5   1 check.cc:3] Check failed\n"
                             b"\r 2/3 [=======...] - 2s")


def test_much_output_neither_blocks_nor_is_lost():
    result = run_quietly("""
        for i in range(20000):
            os.write(2, b"%d: a line of real output\\n" % i)
            os.write(2, b"I0000 00:00:1.5   1 port.cc:1] chatter\\n")
    """)
    assert result.returncode == 0
    lines = result.stderr.decode().splitlines()
    assert lines == [f"{i}: a line of real output" for i in range(20000)]


def test_level_0_filters_nothing():
    result = run_quietly("""
        os.write(2, b"I0000 00:00:1.5   1 port.cc:1] chatter\\n")
    """, level="0")
    assert result.stderr == b"I0000 00:00:1.5   1 port.cc:1] chatter\n"
