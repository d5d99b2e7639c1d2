"""The n-gram baseline: a language model counted, not trained.

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

There is nothing to fit by gradient descent: `lifecycle.train` counts it
with `count` instead of its schedule, model and fit.
"""

import csv
import math
import os
import time

from tfzoo.choices import NGRAM_SMOOTHINGS, TOKENIZERS, check_choice
from tfzoo.data.sources import load_text_splits
from tfzoo.generation import text_scores
from tfzoo.generation.ngram_sampling import sample_ngram
from tfzoo.generation.text_scores import evaluate_text
from tfzoo.models.ngram_lm import NGramLM
from tfzoo.progress import ProgressBars
from tfzoo.runs.run_folder import run_path
from tfzoo.text.encoding import encode as encode_text
from tfzoo.text.kinds import (build_tokenizer, default_new_tokens,
                              tokenizer_kind)
from tfzoo.text.saving import save_tokenizer
from tfzoo.train_options import resolve_settings

TASK = "language_model"
MODELS = ("ngram",)
# What to do with a finished run, said when training ends.
NEXT_STEP = ("sample from it with: tfzoo generate --run {run} "
             "\"TEXT\"")
COUNTED = True


def make_settings(model="ngram", **options):
    """The settings of an n-gram run: `order`, `smoothing` and `k`, and the
    text and tokenizer settings of a language model (see
    `tfzoo.tasks.language_model.make_settings`).

    Raises:
        ValueError: an order below 1, an unknown smoothing or tokenizer,
            `k <= 0`, `k` without add-k smoothing.
    """
    if model != "ngram":
        raise ValueError(f"unknown n-gram model {model!r}")
    if options.get("k") is not None and options.get("smoothing") != "add_k":
        raise ValueError("--add-k applies to --smoothing add_k")
    settings = resolve_settings(model, options)
    if settings["order"] < 1:
        raise ValueError(f"the order must be at least 1, got "
                         f"{settings['order']}")
    check_choice("smoothing", settings["smoothing"], NGRAM_SMOOTHINGS)
    check_choice("tokenizer", settings["tokenizer"], TOKENIZERS)
    if settings["smoothing"] == "add_k":
        if settings["k"] <= 0:
            raise ValueError(f"k must be above 0, got {settings['k']}")
    else:
        settings["k"] = None
    if settings["tokenizer"] != "subword":
        settings["vocabulary_size"] = None
    return {"task": TASK, **settings}


def upgrade_settings(settings):
    """Settings as they are: none added since n-gram runs exist."""
    return dict(settings)


def read_data(settings, data_dir=None):
    """`(train_text, validation_text)`, as a language model reads them.

    Raises:
        ValueError: an empty training or validation text.
    """
    texts = load_text_splits(settings["data"], data_dir,
                             settings["validation_fraction"],
                             settings["validation_data"])
    for name, text in zip(("training", "validation"), texts):
        if not text:
            raise ValueError(f"the {name} text of {settings['data']} is "
                             "empty; an n-gram model needs at least 2 "
                             "tokens of each")
    return texts


def load_preprocessor(run_dir):
    """None: an n-gram run is counted whole, its tokenizer built anew."""
    return None


def make_preprocessor(settings, data):
    """The tokenizer, built from the training text."""
    return build_tokenizer(settings["tokenizer"], data[0],
                           settings["vocabulary_size"])


def encode(settings, tokenizer, data):
    """`(train_ids, validation_ids)`, each at least 2 tokens.

    Raises:
        ValueError: a text of fewer than 2 tokens.
    """
    tokenizing = ProgressBars({"tokenizing": "characters"})
    examples = tuple(encode_text(tokenizer, text, tokenizing)
                     for text in data)
    for name, ids in zip(("training", "validation"), examples):
        if len(ids) < 2:
            raise ValueError(f"the {name} text has {len(ids)} token(s); an "
                             "n-gram model needs at least 2")
    return examples


def count(settings, tokenizer, examples):
    """Counts the model; returns `(model, losses, seconds)`, `losses` the
    training and validation loss in nats per token."""
    train_ids, validation_ids = examples
    start = time.perf_counter()
    model = NGramLM(settings["order"], tokenizer.vocabulary_size(),
                    settings["smoothing"], settings["k"] or 1.0)
    model.fit(train_ids)
    seconds = time.perf_counter() - start
    losses = {name: -float(model.log_probabilities(ids).mean())
              for name, ids in (("loss", train_ids),
                                ("val_loss", validation_ids))}
    return model, losses, seconds


def save(run_dir, tokenizer, data=None, model=None, losses=None):
    """Writes the tokenizer, the history row and the model (`ngram.npz`
    last: the run is then complete)."""
    save_tokenizer(tokenizer, run_dir)
    if model is not None:
        _write_history(run_dir, losses)
        model.save(run_dir)


def describe(settings, model, tokenizer, examples, seconds, losses):
    """What was counted, in two lines."""
    return (f"{settings['order']}-gram model, {settings['smoothing']}: "
            f"{model.num_ngrams():,} n-grams counted in {seconds:.1f} s "
            f"from {len(examples[0]):,} tokens ({tokenizer_kind(tokenizer)} "
            f"vocabulary of {tokenizer.vocabulary_size():,}).\n"
            f"training loss {losses['loss']:.4f}, validation loss "
            f"{losses['val_loss']:.4f} nats/token ({len(examples[1]):,} "
            "validation tokens).")


def evaluate(run, data=None, data_dir=None, split=None, batch_size=None,
             stride=None, verbose=True):
    """Scores a text: see `tfzoo.generation.text_scores.evaluate_text`
    (`batch_size` and `stride` do not apply)."""
    return evaluate_text(run, data, data_dir, split, verbose=verbose)


def generate(run, prompts, max_new_tokens=None, use_cache=True,
             jit_compile=True, **options):
    """Continues each prompt (a list of str) with the n-gram model: see
    `tfzoo.generation.ngram_sampling.sample_ngram` for `options`
    (`temperature`, `top_k`, `top_p`, `seed`, `end_token_id`).
    `max_new_tokens` defaults to `default_new_tokens(run.tokenizer)`;
    `use_cache` and `jit_compile` do not apply."""
    if max_new_tokens is None:
        max_new_tokens = default_new_tokens(run.tokenizer)
    return sample_ngram(run.model, run.tokenizer, list(prompts),
                        max_new_tokens=max_new_tokens, **options)


# `tfzoo eval`'s lines: per token, per character and per word.
report = text_scores.report


def server(run, **options):
    """Refused: `tfzoo export` writes neural models.

    Raises:
        ValueError: always.
    """
    raise ValueError(f"{run.run_dir} is an n-gram run; tfzoo export writes "
                     "neural models (score and sample n-grams with tfzoo "
                     "eval and tfzoo generate)")


def plots(run_dir, out_dir, data_dir=None):
    """No plots beyond the training curves."""
    return []


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
