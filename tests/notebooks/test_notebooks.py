"""Every notebook runs top to bottom, with its small CI settings.

Running them takes about 20 minutes on 2 cores, so they run on purpose
(`pytest -m slow tests/notebooks`); the default run checks that each one
is valid Python with its outputs stripped, and each has fast
representatives there: training and generation in tests/test_cli.py and
tests/models/test_overfit.py, the BERT classifier in
tests/training/test_classifier.py, attention weights in tests/layers and
tests/models, translation in tests/test_cli_translation.py, and the
pretrained LLM's chat, LoRA and export in tests/serving/test_chat_export.py
and tests/training/test_fine_tuning.py (on a tiny llama).
"""

import ast
import glob
import os

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

NOTEBOOKS = sorted(glob.glob(os.path.join(
    os.path.dirname(__file__), "..", "..", "notebooks", "*.ipynb")))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_a_notebook_is_python_with_its_outputs_stripped(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(not cell.get("outputs") for cell in code), (
        "outputs must be stripped in git")
    ipython = TransformerManager()  # `%magic` and `!command` lines as Python
    for number, cell in enumerate(code, 1):
        ast.parse(ipython.transform_cell(cell.source),
                  f"{os.path.basename(path)}, code cell {number}")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs(path, shared_data_dir, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("TFZOO_DATA_DIR", shared_data_dir)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(path)}}
                   ).execute()
