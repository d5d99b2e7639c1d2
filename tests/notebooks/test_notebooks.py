"""Every notebook runs top to bottom, with its small CI settings."""

import glob
import os

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted(glob.glob(os.path.join(
    os.path.dirname(__file__), "..", "..", "notebooks", "*.ipynb")))
# Run on purpose (pytest -m slow): each has a fast representative in the
# default run (the BERT classifier in tests/training/test_classifier.py,
# attention weights in tests/layers and tests/models).
SLOW = {"03_bert_classifier.ipynb", "05_attention.ipynb"}


def test_there_are_notebooks():
    assert NOTEBOOKS
    assert SLOW <= {os.path.basename(path) for path in NOTEBOOKS}


@pytest.mark.parametrize("path", [
    pytest.param(path, marks=[pytest.mark.slow]
                 if os.path.basename(path) in SLOW else [])
    for path in NOTEBOOKS], ids=os.path.basename)
def test_notebook_runs(path, shared_data_dir, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("TFZOO_DATA_DIR", shared_data_dir)
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells
               if cell.cell_type == "code"), "outputs must be stripped in git"
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(path)}}
                   ).execute()
