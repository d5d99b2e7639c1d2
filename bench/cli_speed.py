"""How fast the `tfzoo` command answers --help and refuses mistakes.

    python bench/cli_speed.py [--repeats 3] [--tree PATH]

Prints, for `tfzoo train --help` and each argument mistake that needs no
TensorFlow (the cases of tests/cli/test_early_refusals.py), the best wall
time of a fresh `python -m tfzoo.cli` process over `--repeats` runs, and
the first line it printed. Run it from the repository root; `--tree` times
another checkout of tfzoo (e.g. an older release) with the same cases.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from tests.cli.test_early_refusals import MISTAKES  # noqa: E402


def best_time(arguments, folder, repeats, tree):
    best = float("inf")
    environment = dict(os.environ, PYTHONPATH=tree)
    for _ in range(repeats):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "tfzoo.cli",
                                 *arguments], cwd=folder, env=environment,
                                capture_output=True, text=True)
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per case, the best is kept (default 3)")
    parser.add_argument("--tree", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), ".."),
        help="the tfzoo checkout to time (default: this one)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="cli-speed-")
    with open(os.path.join(folder, "text.txt"), "w") as f:
        f.write("Some text.\n" * 50)
    with open(os.path.join(folder, "pairs.tsv"), "w") as f:
        f.write("en\tde\nOpen\tÖffnen\n")
    with open(os.path.join(folder, "labelled.tsv"), "w") as f:
        f.write("sentence\tlabel\nGood.\t1\n")
    cases = [(["train", "--help"], "--help")] + MISTAKES
    print(f"{'seconds':>8}  command")
    for arguments, message in cases:
        seconds, result = best_time(arguments, folder, args.repeats,
                                     os.path.abspath(args.tree))
        said = (result.stderr or result.stdout).strip().splitlines()
        print(f"{seconds:8.2f}  tfzoo {' '.join(arguments)}\n"
              f"{'':>10}{said[0][:100] if said else ''}")


if __name__ == "__main__":
    main()
