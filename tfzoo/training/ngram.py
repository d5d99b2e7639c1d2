"""Count an n-gram language model: the zoo's baseline.

`tfzoo train --model ngram --order N` reads the text as the neural
language models do (the same split, or `--val`), builds the same kind of
tokenizer, counts an `NGramLM` (`tfzoo.models.ngram_lm`) in seconds, and
writes a run folder that `tfzoo eval` and `tfzoo generate` read like any
language model's:

    runs/NAME/
      run.json          the settings (`model`: "ngram")
      tokenizer.json    the tokenizer (and tokenizer.spm for subwords)
      logs/history.csv  one row: training and validation loss
      ngram.json        order, vocabulary size, smoothing, discounts
      ngram.npz         the counts, written last (the run is then complete)

The fifth sibling of the trainers; there is nothing to fit by gradient
descent, so it needs no `lifecycle.fit_and_save`.
"""

import csv
import math
import os
import time

from tfzoo.choices import NGRAM_SMOOTHINGS, TOKENIZERS, check_choice
from tfzoo.data import load_text_splits
from tfzoo.models.ngram_lm import NGramLM
from tfzoo.progress import ProgressBars
from tfzoo.text.encoding import encode
from tfzoo.text.kinds import (DEFAULT_VOCABULARY_SIZE, build_tokenizer,
                              tokenizer_kind)
from tfzoo.text.saving import save_tokenizer
from tfzoo.training.lifecycle import look_at_run, open_run
from tfzoo.training.run_folder import run_path

DEFAULT_ORDER = 5


def make_ngram_settings(data, order=DEFAULT_ORDER, smoothing="kneser_ney",
                        k=1.0, tokenizer="char", vocabulary_size=None,
                        validation_fraction=0.1, validation_data=None):
    """The settings of an n-gram run (see `language_model.make_settings`
    for `data`, `validation_fraction` and `validation_data`).

    Raises:
        ValueError: an order below 1, an unknown smoothing or tokenizer,
            `k <= 0`.
    """
    if order < 1:
        raise ValueError(f"the order must be at least 1, got {order}")
    check_choice("smoothing", smoothing, NGRAM_SMOOTHINGS)
    check_choice("tokenizer", tokenizer, TOKENIZERS)
    if smoothing == "add_k" and k <= 0:
        raise ValueError(f"k must be above 0, got {k}")
    return {
        "task": "language_model",
        "model": "ngram",
        "order": order,
        "smoothing": smoothing,
        "k": k if smoothing == "add_k" else None,
        "data": data,
        "tokenizer": tokenizer,
        "vocabulary_size": (vocabulary_size or DEFAULT_VOCABULARY_SIZE
                            if tokenizer == "subword" else None),
        "validation_fraction": (
            None if validation_data is not None else validation_fraction),
        "validation_data": validation_data,
    }


def train_ngram(settings, run_dir, data_dir=None, overwrite=False):
    """Counts the n-gram model that `settings` define into `run_dir`.

    Returns:
        `(model, tokenizer)`.

    Raises:
        ValueError: `run_dir` holds a different run; bad data.

    Example:
    >>> settings = make_ngram_settings("input.txt", order=7)
    >>> model, tokenizer = train_ngram(settings, "runs/7gram")
    """
    _, finished = look_at_run(run_dir, settings, overwrite)
    if finished:
        return finished.model, finished.tokenizer
    # Everything is read and checked before the first write.
    train_text, validation_text = load_text_splits(
        settings["data"], data_dir, settings["validation_fraction"],
        settings["validation_data"])
    tokenizer = build_tokenizer(settings["tokenizer"], train_text,
                                settings["vocabulary_size"])
    tokenizing = ProgressBars({"tokenizing": "characters"})
    train_ids = encode(tokenizer, train_text, tokenizing)
    validation_ids = encode(tokenizer, validation_text, tokenizing)
    for name, ids in (("training", train_ids),
                      ("validation", validation_ids)):
        if len(ids) < 2:
            raise ValueError(f"the {name} text has {len(ids)} token(s); an "
                             "n-gram model needs at least 2")
    start = time.perf_counter()
    model = NGramLM(settings["order"], tokenizer.vocabulary_size(),
                    settings["smoothing"], settings["k"] or 1.0)
    model.fit(train_ids)
    seconds = time.perf_counter() - start
    losses = {name: -float(model.log_probabilities(ids).mean())
              for name, ids in (("loss", train_ids),
                                ("val_loss", validation_ids))}

    open_run(run_dir, settings, overwrite)
    save_tokenizer(tokenizer, run_dir)
    _write_history(run_dir, losses)
    model.save(run_dir)  # ngram.npz last: the run is complete
    print(f"{settings['order']}-gram model, {settings['smoothing']}: "
          f"{model.num_ngrams():,} n-grams counted in {seconds:.1f} s from "
          f"{len(train_ids):,} tokens ({tokenizer_kind(tokenizer)} "
          f"vocabulary of {tokenizer.vocabulary_size():,}).\n"
          f"training loss {losses['loss']:.4f}, validation loss "
          f"{losses['val_loss']:.4f} nats/token ({len(validation_ids):,} "
          "validation tokens).")
    return model, tokenizer


def _write_history(run_dir, losses):
    """`logs/history.csv`, one row in the neural runs' columns."""
    os.makedirs(run_path(run_dir, "logs"), exist_ok=True)
    path = run_path(run_dir, "logs", "history.csv")
    row = {"epoch": 0}
    for name, loss in losses.items():
        row[name] = loss
        row[name.replace("loss", "perplexity")] = math.exp(loss)
    with open(path + ".tmp", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    os.replace(path + ".tmp", path)
