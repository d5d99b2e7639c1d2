"""`load_run`: one loader for every finished run, whatever its task.

`tfzoo eval`, `generate`, `classify`, `export` and `plot` all start here.
What a run folder holds says what to load, whatever the task: its model
(`model.keras`, or an n-gram run's counts), its tokenizer
(`tokenizer.json`) or BERT preprocessor (`preprocessor.json`), a
classifier's class names (`labels.json`), and an imported LLM's chat
template (`chat_template.jinja`). A LoRA run's model is its base (its
`init`) with its adapters (`adapters.npz`).
"""

import json
import os
from typing import NamedTuple, Optional

import keras

import tfzoo.models  # noqa: F401  (registers tfzoo's classes with Keras)
from tfzoo.models.lora import load_adapters
from tfzoo.models.ngram_lm import NGramLM
from tfzoo.runs.run_folder import model_file, read_settings, run_path
from tfzoo.text.saving import (PREPROCESSOR_FILE, load_preprocessor,
                               load_tokenizer)

LABELS_FILE = "labels.json"
CHAT_TEMPLATE_FILE = "chat_template.jinja"


class Run(NamedTuple):
    """A finished run, loaded.

    Attributes:
        run_dir: str, its folder.
        task: str, the task its `run.json` names: `"language_model"`,
            `"classification"`, `"masked_lm"` or `"translation"`.
        model: the trained model (a Keras model, uncompiled unless loaded
            to train on; an `NGramLM` for an n-gram run).
        tokenizer: its tokenizer: a character, SentencePiece or byte-level
            BPE tokenizer, or for BERT runs the WordPiece tokenizer of its
            `preprocessor`.
        settings: dict, `run.json` in today's names.
        labels: list of str, a classifier's class names in label-id order;
            `None` for other tasks.
        preprocessor: the `BertPreprocessor` (WordPiece and packing) of a
            classifier or MLM run; `None` for other tasks.
        sample: str or None, the text sample a language model's training
            wrote at its end (set by `tfzoo.training.lifecycle.train`).
        chat_template: str or None, the Jinja chat template of a
            pretrained model (`tfzoo.text.chat_template`); `None` for runs
            trained from scratch.
    """

    run_dir: str
    task: str
    model: object
    tokenizer: object
    settings: dict
    labels: Optional[list] = None
    preprocessor: Optional[object] = None
    sample: Optional[str] = None
    chat_template: Optional[str] = None


def load_run(run_dir, compile=False, settings=None, model=None):
    """Loads the finished run in `run_dir`.

    Args:
        run_dir: str, a run folder.
        compile: bool, load the model compiled, with its optimizer state
            (to train on; its task's losses and metrics must be registered
            with Keras, as importing `tfzoo.tasks` does); by default
            uncompiled, to predict or export.
        settings: dict or None, the run's settings if the caller has read
            them already (`tfzoo.tasks.catalog.read_run_settings` gives
            them in today's form), so that `run.json` is read once.
        model: the run's model if the caller holds it (just trained), so
            that it is not loaded again.

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
    if model is None and not os.path.isfile(model_path):
        raise ValueError(
            f"{run_dir} has no {model_file(settings)} yet: finish (or "
            "resume) its training first"
        )
    preprocessor = labels = None
    if os.path.isfile(run_path(run_dir, PREPROCESSOR_FILE)):
        preprocessor = load_preprocessor(run_dir)
        tokenizer = preprocessor.tokenizer
    else:
        tokenizer = load_tokenizer(run_dir)
    if os.path.isfile(run_path(run_dir, LABELS_FILE)):
        with open(run_path(run_dir, LABELS_FILE), encoding="utf-8") as f:
            labels = json.load(f)
    chat_template = None
    if os.path.isfile(run_path(run_dir, CHAT_TEMPLATE_FILE)):
        with open(run_path(run_dir, CHAT_TEMPLATE_FILE),
                  encoding="utf-8") as f:
            chat_template = f.read()
    if model is None:
        if settings.get("lora_rank"):  # the base, then the adapters
            from tfzoo.runs.pretrained import adapted_model

            model = adapted_model(settings)
            load_adapters(model, model_path)
        elif model_path.endswith(".keras"):
            model = keras.saving.load_model(model_path, compile=compile)
        else:
            model = NGramLM.load(run_dir)
    return Run(run_dir, settings["task"], model, tokenizer, settings, labels,
               preprocessor, chat_template=chat_template)
