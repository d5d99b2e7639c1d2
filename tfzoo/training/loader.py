"""`load_run`: one loader for every finished run, whatever its task.

`tfzoo eval`, `generate`, `classify` and `export` all start here, and read
`run.json` once.
"""

import json
import os
from typing import NamedTuple, Optional

import keras

import tfzoo.models  # noqa: F401  (registers tfzoo's classes with Keras)
from tfzoo.models.ngram_lm import NGramLM
import tfzoo.training.metrics  # noqa: F401  (and its metrics)
from tfzoo.text.saving import load_preprocessor, load_tokenizer
from tfzoo.training.run_folder import (model_file, read_settings,
                                       run_path)

LABELS_FILE = "labels.json"


class Run(NamedTuple):
    """A finished run, loaded.

    Attributes:
        run_dir: str, its folder.
        task: `"language_model"`, `"classification"`, `"masked_lm"` or
            `"translation"`.
        model: the trained Keras model (uncompiled).
        tokenizer: what turns its text into the model's inputs: the
            character or SentencePiece tokenizer of a language model (and
            the SentencePiece tokenizer of a translation model), the
            `BertPreprocessor` (WordPiece and packing) of a classifier or
            MLM.
        settings: dict, `run.json` in today's names
            (`run_folder.upgrade_settings`).
        labels: list of str, a classifier's class names in label-id order;
            `None` for other tasks.
    """

    run_dir: str
    task: str
    model: keras.Model
    tokenizer: object
    settings: dict
    labels: Optional[list]


def load_run(run_dir, compile=False, settings=None):
    """Loads the finished run in `run_dir`.

    Args:
        run_dir: str, a run folder.
        compile: bool, load the model compiled, with its optimizer state
            (to train on); by default uncompiled, to predict or export.
        settings: dict or None, the run's settings if the caller has read
            them already (`run_folder.read_settings`), so that `run.json`
            is read once.

    Returns:
        A `Run`.

    Raises:
        ValueError: `run_dir` is not a run folder, or has no `model.keras`
            yet (its training is unfinished).

    Example:
    >>> run = load_run("runs/quickstart")
    >>> run.task, run.model.max_sequence_length
    ('language_model', 64)
    """
    if settings is None:
        settings = read_settings(run_dir)
    model_path = run_path(run_dir, model_file(settings))
    if not os.path.isfile(model_path):
        raise ValueError(
            f"{run_dir} has no {model_file(settings)} yet: finish (or "
            "resume) its training first"
        )
    task = settings["task"]
    labels = None
    if task in ("language_model", "translation"):
        tokenizer = load_tokenizer(run_dir)
    else:
        tokenizer = load_preprocessor(run_dir)
    if task == "classification":
        with open(run_path(run_dir, LABELS_FILE), encoding="utf-8") as f:
            labels = json.load(f)
    if settings.get("model") == "ngram":
        model = NGramLM.load(run_dir)
    else:
        model = keras.saving.load_model(model_path, compile=compile)
    return Run(run_dir, task, model, tokenizer, settings, labels)
