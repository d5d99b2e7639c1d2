"""`evaluate_text`: how well a language model predicts a text, in the
units people compare: per token, per character and per word.

Shared by the neural language models and the n-gram baseline (which
scores itself with `NGramLM.log_probabilities`), so their figures
compare.
"""

import math

from tfzoo.choices import check_choice
from tfzoo.data.sources import load_text, load_text_splits
from tfzoo.data.sources import is_tfds_name
from tfzoo.decoding.scoring import text_log_likelihood
from tfzoo.models.ngram_lm import NGramLM
from tfzoo.progress import ProgressBars
from tfzoo.text.encoding import decode, encode

SPLITS = ("train", "validation")


def evaluate_text(run, data=None, data_dir=None, split=None,
                  batch_size=None, stride=None, verbose=True):
    """Scores a text with a finished language-model run: the run's own
    validation (or training) text, or the whole of any file.

    The text is scored whole with overlapping windows (see
    `tfzoo.decoding.scoring`; the same rule as the exported `score`
    signature): every token but the first is predicted once, with at least
    `max_sequence_length - stride` tokens of context. An n-gram model
    conditions each token on the n-1 before it.

    Args:
        run: a `tfzoo.runs.Run` of a language model.
        data: str or None: a file or folder, scored whole, or a TFDS name
            (its `split`); default: the run's own data, split as it trained.
        data_dir: str or None, see `tfzoo.data.load_text_splits`.
        split: `"validation"` (default) or `"train"`: the part of the run's
            data or of a TFDS dataset. A file given as `data` has none.
        batch_size: int or None, windows per step; default the run's batch.
        stride: int or None, in tokens, from 1 to the max sequence length;
            default half of it.
        verbose: bool, show a progress bar.

    Returns:
        dict: `loss` (nats per token), `perplexity`, `tokens` (the tokens
        scored), `bits_per_character` (bits per character of the scored
        tokens), `words` (whitespace-separated words of the text, each line
        end counted as one word), `loss_per_word` (nats) and
        `word_perplexity`, so that figures compare with published
        word-level results; and `source`, what was scored, in words.

    Raises:
        ValueError: an unknown split, or a split with a file; unreadable
            data; a text of fewer than 2 tokens; no `data` for an imported
            run (it has none of its own).

    Example:
    >>> evaluate_text(load_run("runs/tiny"))["perplexity"]
    """
    settings = run.settings
    if split is not None:
        check_choice("split", split, SPLITS)
    if data is None and settings.get("data") is None:
        raise ValueError(
            f"{run.run_dir or 'this model'} was imported from "
            f"{settings.get('source')} and has no data of its own: give "
            "the text to score (--data)")
    if data is None:
        split = split or "validation"
        train_text, validation_text = load_text_splits(
            settings["data"], data_dir, settings["validation_fraction"],
            settings.get("validation_data"))
        text = train_text if split == "train" else validation_text
        source = f"the {split} text of {settings['data']}"
        if split == "validation" and settings.get("validation_data"):
            source = f"the whole of {settings['validation_data']}"
    elif is_tfds_name(data):
        split = split or "validation"
        text = load_text(data, data_dir, split)
        source = f"the {split} split of {data}"
    else:
        if split is not None:
            raise ValueError(f"{data} is scored whole; --split picks a part "
                             "of the run's own data or of a TFDS dataset")
        text = load_text(data, data_dir)
        source = f"the whole of {data}"
    token_ids = encode(run.tokenizer, text, ProgressBars(
        {"tokenizing": "characters"}, verbose))
    if len(token_ids) < 2:
        raise ValueError(f"{source} has {len(token_ids)} token(s); scoring "
                         "needs at least 2")
    if isinstance(run.model, NGramLM):  # each token given the n-1 before
        log_likelihood = float(run.model.log_probabilities(token_ids).sum())
        tokens = len(token_ids) - 1
    else:
        log_likelihood, tokens = text_log_likelihood(
            run.model, token_ids, stride=stride,
            batch_size=batch_size or settings["batch_size"],
            jit_compile=settings.get("jit_compile", True), verbose=verbose)
    nats = -log_likelihood
    characters = len(text) - len(decode(run.tokenizer, token_ids[:1]))
    words = len(text.split()) + text.count("\n")
    return {
        "source": source,
        "loss": nats / tokens,
        "perplexity": math.exp(min(nats / tokens, 700.0)),
        "tokens": tokens,
        "bits_per_character": nats / max(characters, 1) / math.log(2),
        "words": words,
        "loss_per_word": nats / max(words, 1),
        "word_perplexity": math.exp(min(nats / max(words, 1), 700.0)),
    }


def report(metrics):
    """`evaluate_text`'s figures as the lines `tfzoo eval` prints."""
    return "\n".join([
        f"{metrics['source']}: {metrics['tokens']:,} tokens scored, "
        f"{metrics['words']:,} words",
        f"loss {metrics['loss']:.4f} nats/token, perplexity "
        f"{metrics['perplexity']:.3f}, "
        f"{metrics['bits_per_character']:.4f} bits/character",
        f"loss {metrics['loss_per_word']:.4f} nats/word, word perplexity "
        f"{metrics['word_perplexity']:.2f}"])
