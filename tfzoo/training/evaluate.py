"""Evaluate a trained run: loss, perplexity and bits per character."""

import math
import os

import keras

from tfzoo.data import evaluation_windows, load_text_splits
from tfzoo.text import encode, load_tokenizer
from tfzoo.training.run_folder import MODEL_FILE, read_settings, run_path
from tfzoo.training.train import compile_model

SPLITS = ("train", "validation")


def load_run(run_dir):
    """`(model, tokenizer, settings)` of a finished run folder."""
    settings = read_settings(run_dir)
    model_path = run_path(run_dir, MODEL_FILE)
    if not os.path.isfile(model_path):
        raise ValueError(
            f"{run_dir} has no {MODEL_FILE} yet: finish (or resume) its "
            "training first"
        )
    model = keras.saving.load_model(model_path, compile=False)
    return model, load_tokenizer(run_dir), settings


def evaluate_run(
    run_dir, data=None, data_dir=None, split="validation", batch_size=None
):
    """Mean next-token loss of a run's model on a split of its data.

    Args:
        run_dir: str, a finished run folder.
        data: str or None, a file, folder or TFDS name; default: the data
            the run trained on, split the same way.
        data_dir: str or None, see `load_text_splits`.
        split: `"validation"` (default) or `"train"`.
        batch_size: int or None; default: the run's.

    Returns:
        dict with `loss` (nats per token), `perplexity`, `tokens`, and
        `bits_per_character` for character models.

    Example:
    >>> evaluate_run("runs/tiny")["perplexity"]
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose train or validation")
    model, tokenizer, settings = load_run(run_dir)
    train_text, validation_text = load_text_splits(
        data or settings["data"], data_dir, settings["validation_fraction"]
    )
    text = train_text if split == "train" else validation_text
    token_ids = encode(tokenizer, text)
    compile_model(model)
    results = model.evaluate(
        evaluation_windows(
            token_ids,
            settings["context_length"],
            batch_size or settings["batch_size"],
        ),
        verbose=0,
        return_dict=True,
    )
    metrics = {
        "loss": results["loss"],
        "perplexity": math.exp(results["loss"]),
        "tokens": len(token_ids),
    }
    if settings["tokenizer"] == "char":
        metrics["bits_per_character"] = results["loss"] / math.log(2)
    return metrics
