"""`tfzoo --version` and `tfzoo generate`'s default length, read without
TensorFlow."""

import subprocess
import sys

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
