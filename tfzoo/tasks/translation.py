"""The translation task: Transformer and LSTM encoder-decoders.

Sentence pairs (TSV/CSV files or TFDS, `tfzoo.data.parallel`) train one
SentencePiece vocabulary on both sides; pairs are batched in length
buckets for teacher forcing. The run folder holds, besides what every run
holds (see `tfzoo.runs.run_folder`): `tokenizer.json` and
`tokenizer.spm`, and in `logs/samples` the TensorBoard translations of a
few dev sentences.

The parts that `tfzoo.training.lifecycle.train` runs, in its order, then
`evaluate` (loss, BLEU and chrF), `server` and `plots`.
"""

import math
from typing import NamedTuple

import keras
import keras_hub

from tfzoo.data.parallel import (ParallelText, count_tokens, encode_pairs,
                                 read_parallel, translation_dataset)
from tfzoo.generation.translate import translate
from tfzoo.models import build_model
from tfzoo.progress import ProgressBars
from tfzoo.runs.run_folder import run_path
from tfzoo.serving.translator import (DEFAULT_LENGTH_PENALTY, Translator,
                                      special_token_ids)
from tfzoo.text.placeholders import placeholder_share
from tfzoo.text.saving import load_tokenizer, save_tokenizer
from tfzoo.text.subword_tokenizer import train_subword_tokenizer
from tfzoo.train_options import resolve_settings
from tfzoo.training.callbacks import TranslationSamples
from tfzoo.training.lifecycle import compile_for_training
from tfzoo.training.masked_losses import MaskedAccuracy, MaskedCrossEntropy

TASK = "translation"
MODELS = ("seq2seq", "lstm-seq2seq")
# What to do with a finished run, said when training ends.
NEXT_STEP = ("translate with: tfzoo translate --run {run} "
             "\"TEXT\"")
COUNTED = False
PAD_ID = 3  # after SentencePiece's <unk> 0, <s> 1 and </s> 2
SAMPLE_SENTENCES = 4  # dev sentences translated into TensorBoard
# Said while a training step runs far slower than the others: the first
# batch of a new length bucket, whose shape XLA compiles (see
# `tfzoo.progress.TrainingProgress`).
SLOW_STEP = "compiling a new length bucket"


def make_settings(model, preset=None, **options):
    """The settings of a translation run, checked, as a JSON-able dict:
    `options` (the settings of `tfzoo.train_options.TRAIN_OPTIONS` that
    apply to `model`), else their defaults, the preset's included.

    `jit_compile` (XLA) is on by default: `seq2seq-small` trained at 246
    ms per step with it and 345 without (batch 64, 2 CPU cores;
    `python bench/translation.py` measures it each time). `batch_size`
    counts sentence pairs per replica.

    Raises:
        ValueError: an unknown model, preset or quoting; a preset of the
            other model; both `epochs` and `steps`; a value out of range.

    Example:
    >>> settings = make_settings(
    ...     "seq2seq", "seq2seq-tiny", data="translation_en_de/train.tsv",
    ...     validation_data="translation_en_de/dev.tsv", steps=200)
    """
    if model not in MODELS:
        raise ValueError(f"unknown translation model {model!r}; choose one "
                         f"of: {', '.join(MODELS)}")
    settings = resolve_settings(model, dict(options, preset=preset))
    for name, least in (("max_sequence_length", 2),
                        ("vocabulary_size", 300)):
        if settings[name] < least:
            raise ValueError(f"{name} must be at least {least}, got "
                             f"{settings[name]}")
    if not 0.0 <= settings["label_smoothing"] < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got "
                         f"{settings['label_smoothing']}")
    return {"task": TASK, **settings}


def upgrade_settings(settings):
    """Settings of older runs in today's form: the settings added since,
    with the values those runs had."""
    return {"global_batch_size": None, **settings}


class Pairs(NamedTuple):
    """The run's training and validation `ParallelText`."""

    train: ParallelText
    validation: ParallelText


def read_split(settings, split, data_dir=None, source=None):
    """The `"train"` or `"validation"` pairs of a run (or of `source`, read
    with the run's columns), as a `ParallelText`."""
    if source is None:
        source = settings["data" if split == "train" else "validation_data"]
    return read_parallel(
        source, data_dir, settings["source_column"],
        settings["target_column"], split=split,
        skip_bad_rows=settings["skip_bad_rows"], quoting=settings["quoting"])


def read_data(settings, data_dir=None):
    """The run's `Pairs`.

    Raises:
        ValueError: unreadable data.
    """
    return Pairs(read_split(settings, "train", data_dir),
                 read_split(settings, "validation", data_dir))


def load_preprocessor(run_dir):
    """The tokenizer saved in `run_dir`, or None."""
    try:
        return load_tokenizer(run_dir)
    except FileNotFoundError:
        return None


def make_preprocessor(settings, pairs):
    """One SentencePiece vocabulary trained on both sides of the training
    pairs, with a `<pad>` piece."""
    return train_subword_tokenizer(
        "\n".join(pairs.train.sources + pairs.train.targets),
        settings["vocabulary_size"], pad_id=PAD_ID)


class Examples(NamedTuple):
    """The encoded pairs (`tfzoo.data.parallel.EncodedPairs`)."""

    train: object
    validation: object


def encode(settings, tokenizer, pairs):
    """The run's encoded `Examples` (see `encode_pairs`)."""
    bos_id, eos_id, _ = special_token_ids(tokenizer)
    length = settings["max_sequence_length"]
    return Examples(
        encode_pairs(tokenizer, pairs.train, length, bos_id, eos_id,
                     settings["data"]),
        encode_pairs(tokenizer, pairs.validation, length, bos_id, eos_id,
                     settings["validation_data"]))


def batches_per_pass(settings, examples, batch_size):
    """Batches in one pass over the training pairs."""
    return math.ceil(len(examples.train) / batch_size)


def datasets(settings, examples, tokenizer, batch_size, steps_per_epoch):
    """`(train, validation)`: an endless, seeded stream of shuffled pairs
    in length buckets, and the validation pairs once."""
    length = settings["max_sequence_length"]
    return (translation_dataset(examples.train, PAD_ID, batch_size, length,
                                shuffle=True, seed=settings["seed"],
                                repeat=True),
            translation_dataset(examples.validation, PAD_ID, batch_size,
                                length))


def build(settings, tokenizer, pairs=None):
    """The preset's model for the tokenizer's vocabulary."""
    return build_model(settings["preset"], tokenizer.vocabulary_size(),
                       max_sequence_length=settings["max_sequence_length"],
                       dropout=settings["dropout"])


def compile(model, settings, total_steps=1, strategy=None):
    """Compiles a translation model (see `lifecycle.compile_for_training`):
    label-smoothed cross-entropy over the real target tokens, token
    accuracy and perplexity (keras-hub's, unsmoothed) as metrics."""
    compile_for_training(
        model, settings, total_steps,
        [MaskedAccuracy(PAD_ID),
         keras_hub.metrics.Perplexity(from_logits=True,
                                      mask_token_id=PAD_ID)],
        strategy,
        loss=MaskedCrossEntropy(PAD_ID, settings["label_smoothing"]))


def save(run_dir, tokenizer, pairs=None):
    """Writes the tokenizer into the run folder."""
    save_tokenizer(tokenizer, run_dir)


def describe(settings, model, tokenizer, examples):
    """The banner's first line: model, vocabulary and data."""
    source_tokens, target_tokens = count_tokens(examples.train)
    return (f"{settings['preset']}: {model.count_params():,} parameters, "
            f"shared SentencePiece vocabulary of "
            f"{tokenizer.vocabulary_size():,}. Data: {len(examples.train):,} "
            f"training pairs ({source_tokens:,} source and "
            f"{target_tokens:,} target tokens), "
            f"{len(examples.validation):,} validation pairs.")


def batch_unit(settings, batch_size):
    """What one step reads, in words."""
    return f"{batch_size} pairs"


def callbacks(settings, tokenizer, pairs, run_dir, sample_every):
    """Greedy translations of a few dev sentences in TensorBoard."""
    return [TranslationSamples(
        tokenizer, run_path(run_dir, "logs", "samples"),
        pairs.validation.sources[:SAMPLE_SENTENCES],
        pairs.validation.targets[:SAMPLE_SENTENCES], every=sample_every)]


def server(run, jit_compile=True, end_token_id=None, labels=None,
           max_sequence_length=None):
    """The `Translator` that `tfzoo export` saves: `serving_default`
    (source, optional beam_width and max_new_tokens -> translation).

    Raises:
        ValueError: `end_token_id`, `max_sequence_length` or `labels`
            (other tasks' options).
    """
    if end_token_id is not None:
        raise ValueError("an end token applies to language models only")
    if max_sequence_length is not None:
        raise ValueError("a max sequence length at export applies to "
                         "language models only")
    if labels is not None:
        raise ValueError("labels apply to classifiers only")
    return Translator(run.model, run.tokenizer, jit_compile=jit_compile)


def plots(run_dir, out_dir, data_dir=None):
    """No plots beyond the training curves."""
    return []


def token_loss(model, pairs, batch_size=64):
    """Mean next-token cross-entropy (nats per target token, no
    smoothing) and the number of target tokens of `EncodedPairs`."""
    total, count = 0.0, 0
    for inputs, targets in translation_dataset(
            pairs, PAD_ID, batch_size, model.max_sequence_length):
        logits = model(inputs, training=False)
        loss = keras.ops.sparse_categorical_crossentropy(
            targets, logits, from_logits=True)
        mask = keras.ops.cast(targets != PAD_ID, "float32")
        total += float(keras.ops.sum(loss * mask))
        count += int(keras.ops.sum(mask))
    return total / max(count, 1), count


def evaluate(run, data=None, data_dir=None, batch_size=64, beam_width=4,
             length_penalty=DEFAULT_LENGTH_PENALTY, limit=None, verbose=True):
    """Loss, perplexity, BLEU and chrF of a finished translation run (a
    `loader.Run`) on sentence pairs (default: its validation data).

    BLEU and chrF are sacrebleu's corpus scores (Post, 2018) against one
    reference, for greedy decoding and for beam search of `beam_width`
    (skipped when `beam_width` is 1); their `signature` strings say how
    they were computed. `placeholders_kept` is the share of sources
    holding a placeholder (`%s`, `--option`, ...; see
    `tfzoo.text.placeholders`) whose translation keeps them all.

    Args:
        run: a `loader.Run` of a translation model.
        data: str or None, a pairs file (or TFDS name) read with the run's
            columns; default: the run's validation data.
        data_dir: str or None, the data folder.
        batch_size: int, pairs per batch.
        beam_width: int, the beam search to report beside greedy.
        length_penalty: float, beam search's `alpha`.
        limit: int or None, evaluate the first `limit` pairs only.
        verbose: bool, show the translations' progress on stderr.

    Returns:
        dict: `loss` (nats per target token), `perplexity`, `tokens`,
        `pairs`, and per decoding (`greedy`, `beam`) a dict of `bleu`,
        `chrf`, `bleu_signature`, `chrf_signature`, `placeholders_kept`,
        `placeholder_sentences` and `translations`.

    Raises:
        ValueError: unreadable data.
    """
    settings = run.settings
    source = data or settings["validation_data"]
    pairs = read_split(settings, "validation", data_dir, source)
    if limit:
        pairs = type(pairs)(pairs.sources[:limit], pairs.targets[:limit])
    bos_id, eos_id, _ = special_token_ids(run.tokenizer)
    encoded = encode_pairs(run.tokenizer, pairs, settings[
        "max_sequence_length"], bos_id, eos_id, source)
    loss, tokens = token_loss(run.model, encoded, batch_size)
    metrics = {"loss": loss, "perplexity": math.exp(loss), "tokens": tokens,
               "pairs": len(pairs.sources)}
    decodings = {"greedy": 1}
    if beam_width > 1:
        decodings["beam"] = beam_width
    bars = ProgressBars({f"translating ({name})": "sentences"
                         for name in decodings}, verbose)
    for name, width in decodings.items():
        translations = translate(run.model, run.tokenizer, pairs.sources,
                                 beam_width=width,
                                 length_penalty=length_penalty,
                                 batch_size=batch_size,
                                 progress=_labelled(bars, name))
        metrics[name] = translation_scores(pairs.sources, translations,
                                           pairs.targets)
        metrics[name]["beam_width"] = width
    return metrics


def report(metrics):
    """`evaluate`'s figures as the lines `tfzoo eval` prints: loss, then
    BLEU and chrF of each decoding, and sacrebleu's signatures."""
    lines = [f"loss {metrics['loss']:.4f} nats/token, perplexity "
             f"{metrics['perplexity']:.3f} ({metrics['tokens']:,} target "
             f"tokens, {metrics['pairs']:,} pairs)"]
    for name in ("greedy", "beam"):
        if name not in metrics:
            continue
        scores = metrics[name]
        label = ("greedy" if name == "greedy"
                 else f"beam {scores['beam_width']}")
        lines.append(f"{label}: BLEU {scores['bleu']:.2f}, chrF "
                     f"{scores['chrf']:.2f}, placeholders kept in "
                     f"{scores['placeholders_kept']:.1%} of "
                     f"{scores['placeholder_sentences']:,} sentences")
    lines.append(f"sacrebleu BLEU: {metrics['greedy']['bleu_signature']}")
    lines.append(f"sacrebleu chrF: {metrics['greedy']['chrf_signature']}")
    return "\n".join(lines)


def _labelled(progress, name):
    """`progress` with the stage named after the decoding."""
    return lambda stage, done, total: progress(f"{stage} ({name})", done,
                                               total)


def translation_scores(sources, translations, references):
    """sacrebleu's corpus BLEU and chrF of `translations` against one
    reference each, and the share of placeholders kept."""
    import sacrebleu  # here: translate, generate and classify need none

    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    kept, total = placeholder_share(sources, translations)
    return {
        "bleu": bleu.corpus_score(translations, [references]).score,
        "bleu_signature": str(bleu.get_signature()),
        "chrf": chrf.corpus_score(translations, [references]).score,
        "chrf_signature": str(chrf.get_signature()),
        "placeholders_kept": kept / total if total else float("nan"),
        "placeholder_sentences": total,
        "translations": translations,
    }


def copy_baseline(pairs):
    """Scores of the copy baseline, translation = source (on software
    messages it is not zero: names, options and placeholders match)."""
    return translation_scores(pairs.sources, pairs.sources, pairs.targets)


