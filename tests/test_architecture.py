"""The package's architecture: import-linter's contracts, and a CLI that
parses without TensorFlow."""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_import_linter_contracts_are_kept():
    # The contracts are in .importlinter: layers below models, models below
    # training/generation/export, the CLI on top; the trainers independent;
    # no direct TensorFlow import in tfzoo.layers or tfzoo.models.
    lint_imports = shutil.which(
        "lint-imports", path=os.path.dirname(sys.executable))
    assert lint_imports, "import-linter is missing: pip install -e .[test]"
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_command_line_parses_without_tensorflow():
    code = (
        "import sys\n"
        "from tfzoo.cli import build_parser\n"
        "parser = build_parser()\n"
        "parser.parse_args(['train', '--data', 'x', '--out', 'y'])\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'keras_hub')\n"
        "         if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
