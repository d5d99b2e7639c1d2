"""Train, evaluate and apply translation models: Transformer and LSTM.

The translation sibling of `language_model`, `classifier` and `masked_lm`:
it reads sentence pairs (`tfzoo.data.parallel`), trains one SentencePiece
vocabulary on both sides, builds a `TransformerSeq2Seq` or `LSTMSeq2Seq`,
and leaves the run's life to `lifecycle`.

A translation run folder holds, besides what every run holds (see
`run_folder`): `tokenizer.json` and `tokenizer.spm`, and in `logs/samples`
the TensorBoard translations of a few dev sentences.
"""

import math
import os

import keras
import keras_hub
import sacrebleu
import tensorflow as tf

from tfzoo.choices import QUOTING, TASKS, check_choice
from tfzoo.data.parallel import (count_tokens, encode_pairs, read_parallel,
                                 translation_dataset)
from tfzoo.generation.translate import translate
from tfzoo.generation.translator import (DEFAULT_LENGTH_PENALTY,
                                         special_token_ids)
from tfzoo.models import build_model
from tfzoo.presets import DEFAULT_PRESETS, get_preset
from tfzoo.progress import ProgressBars
from tfzoo.text.placeholders import placeholder_share
from tfzoo.text.saving import TOKENIZER_FILE, load_tokenizer, save_tokenizer
from tfzoo.text.subword_tokenizer import train_subword_tokenizer
from tfzoo.training.callbacks import TranslationSamples
from tfzoo.training.distribute import (describe, precision_name,
                                       precision_policy)
from tfzoo.training.lifecycle import (compile_for_training, fit_and_save,
                                      look_at_run, open_run, xla_state)
from tfzoo.training.masked_losses import MaskedAccuracy, MaskedCrossEntropy
from tfzoo.training.run_folder import backup_epoch, run_path

TASK = "translation"
MODELS = TASKS[TASK]
PAD_ID = 3  # after SentencePiece's <unk> 0, <s> 1 and </s> 2
SAMPLE_SENTENCES = 4  # dev sentences translated into TensorBoard


def make_translation_settings(
    model,
    train,
    validation,
    preset=None,
    source_column="en",
    target_column="de",
    skip_bad_rows=False,
    quoting="auto",
    vocabulary_size=None,
    max_sequence_length=None,
    epochs=None,
    steps=None,
    steps_per_epoch=None,
    batch_size=None,
    learning_rate=None,
    warmup_steps=None,
    weight_decay=0.01,
    clip_norm=1.0,
    label_smoothing=0.1,
    dropout=None,
    seed=1337,
    jit_compile=True,
    precision="float32",
):
    """The settings of a translation run, checked, as a JSON-able dict;
    `None` takes the preset's value.

    `jit_compile` (XLA) is on by default: `seq2seq-small` trained at 246
    ms per step with it and 345 without (batch 64, 2 CPU cores;
    `python bench/translation.py` measures it each time).

    `batch_size` counts sentence pairs per replica. `steps` cuts the run
    into whole epochs of (nearly) equal length that add up to at least
    `steps`; without `steps` or `epochs` a run is one epoch.

    Raises:
        ValueError: an unknown model, preset or quoting; a preset of the
            other model; both `epochs` and `steps`; a value out of range.
    """
    check_choice("translation model", model, MODELS)
    preset = preset or DEFAULT_PRESETS[model]
    spec = get_preset(preset)
    if spec["model"] != model:
        raise ValueError(
            f"preset {preset!r} is a {spec['model']} model, not {model}")
    check_choice("quoting", quoting, QUOTING)
    if epochs is not None and steps is not None:
        raise ValueError("give --epochs or --steps, not both")
    for name, value, least in (("epochs", epochs, 1), ("steps", steps, 1),
                               ("steps_per_epoch", steps_per_epoch, 1),
                               ("batch_size", batch_size, 1),
                               ("max_sequence_length", max_sequence_length,
                                2),
                               ("vocabulary_size", vocabulary_size, 300)):
        if value is not None and value < least:
            raise ValueError(f"{name} must be at least {least}, got {value}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got "
                         f"{label_smoothing}")
    training = spec["training"]
    return {
        "task": TASK,
        "model": model,
        "preset": preset,
        "train": train,
        "validation": validation,
        "source_column": source_column,
        "target_column": target_column,
        "skip_bad_rows": skip_bad_rows,
        "quoting": quoting,
        "vocabulary_size": vocabulary_size or spec["vocabulary_size"],
        "max_sequence_length": (max_sequence_length
                                or spec["arguments"]["max_sequence_length"]),
        "epochs": epochs if steps is None else None,
        "steps": steps,
        "steps_per_epoch": steps_per_epoch,
        "batch_size": batch_size or training["batch_size"],
        "learning_rate": learning_rate or training["learning_rate"],
        "warmup_steps": (training["warmup_steps"] if warmup_steps is None
                         else warmup_steps),
        "weight_decay": weight_decay,
        "clip_norm": clip_norm,
        "label_smoothing": label_smoothing,
        "dropout": (spec["arguments"].get("dropout", 0.0) if dropout is None
                    else dropout),
        "seed": seed,
        "jit_compile": jit_compile,
        "precision": precision_name(precision),
    }


def read_split(settings, split, data_dir=None, source=None):
    """The `"train"` or `"validation"` pairs of a run (or of `source`, read
    with the run's columns), as a `ParallelText`."""
    return read_parallel(
        source or settings[split], data_dir, settings["source_column"],
        settings["target_column"], split=split,
        skip_bad_rows=settings["skip_bad_rows"], quoting=settings["quoting"])


def schedule(settings, num_pairs, batch_size):
    """`(epochs, steps_per_epoch)`: an epoch is one pass over the pairs
    unless `steps_per_epoch` is set; `steps` is cut into whole epochs."""
    steps_per_epoch = settings["steps_per_epoch"] or math.ceil(
        num_pairs / batch_size)
    if settings["steps"]:
        epochs = math.ceil(settings["steps"] / steps_per_epoch)
        return epochs, math.ceil(settings["steps"] / epochs)
    return settings["epochs"] or 1, steps_per_epoch


def compile_translation(model, settings, total_steps=1, strategy=None):
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


def train_translation(settings, run_dir, data_dir=None, overwrite=False,
                      sample_every=500, callbacks=(), verbose="auto",
                      strategy=None):
    """Trains (or resumes, or leaves finished) the translation run, under
    `strategy` (default: the current one).

    Returns:
        `(model, tokenizer)`.

    Raises:
        ValueError: `run_dir` holds a different run; bad data.

    Example:
    >>> settings = make_translation_settings(
    ...     "seq2seq", "translation_en_de/train.tsv",
    ...     "translation_en_de/dev.tsv", preset="seq2seq-tiny", steps=200)
    >>> model, tokenizer = train_translation(settings, "runs/en-de")
    """
    strategy = strategy or tf.distribute.get_strategy()
    # Data and tokenizer are made before anything is written, so that a
    # run refused for its data leaves no run folder behind.
    state, finished = look_at_run(run_dir, settings, overwrite, strategy)
    if finished:
        return finished.model, finished.tokenizer

    # Seeded before the tokenizer exists: reseeding TensorFlow later loses
    # the SentencePiece op's resource.
    keras.utils.set_random_seed(settings["seed"])
    train = read_split(settings, "train", data_dir)
    validation = read_split(settings, "validation", data_dir)
    has_tokenizer = state == "resume" and os.path.isfile(
        run_path(run_dir, TOKENIZER_FILE))
    if has_tokenizer:
        tokenizer = load_tokenizer(run_dir)
    else:
        tokenizer = train_subword_tokenizer(
            "\n".join(train.sources + train.targets),
            settings["vocabulary_size"], pad_id=PAD_ID)
    bos_id, eos_id, _ = special_token_ids(tokenizer)
    max_sequence_length = settings["max_sequence_length"]
    train_ids = encode_pairs(tokenizer, train, max_sequence_length, bos_id,
                             eos_id, settings["train"])
    validation_ids = encode_pairs(tokenizer, validation, max_sequence_length,
                                  bos_id, eos_id, settings["validation"])

    batch_size = settings["batch_size"] * strategy.num_replicas_in_sync
    epochs, steps_per_epoch = schedule(settings, len(train_ids), batch_size)
    first_epoch = backup_epoch(run_dir) if state == "resume" else 0
    strategy, chief, state = open_run(run_dir, settings, overwrite, strategy)
    if chief and not has_tokenizer:
        save_tokenizer(tokenizer, run_dir)
    with strategy.scope(), precision_policy(settings["precision"]):
        model = build_model(settings["preset"], tokenizer.vocabulary_size(),
                            max_sequence_length=max_sequence_length,
                            dropout=settings["dropout"])
        compile_translation(model, settings, epochs * steps_per_epoch,
                            strategy)
    source_tokens, target_tokens = count_tokens(train_ids)
    print(f"{settings['preset']}: {model.count_params():,} parameters, "
          f"shared SentencePiece vocabulary of "
          f"{tokenizer.vocabulary_size():,}. Data: {len(train_ids):,} "
          f"training pairs ({source_tokens:,} source and {target_tokens:,} "
          f"target tokens), {len(validation_ids):,} validation pairs. "
          f"{epochs} epochs x {steps_per_epoch} steps of {batch_size} pairs; "
          f"{describe(strategy)}, {settings['precision']}, "
          f"{xla_state(settings, strategy)}.")
    if first_epoch:
        print(f"Resuming {run_dir} at epoch {first_epoch + 1}.")

    extra = []
    if chief:
        extra.append(TranslationSamples(
            tokenizer, run_path(run_dir, "logs", "samples"),
            validation.sources[:SAMPLE_SENTENCES],
            validation.targets[:SAMPLE_SENTENCES], every=sample_every))
    fit_and_save(
        model, run_dir,
        translation_dataset(train_ids, PAD_ID, batch_size,
                            max_sequence_length, shuffle=True,
                            seed=settings["seed"] + first_epoch,
                            repeat=True),
        translation_dataset(validation_ids, PAD_ID, batch_size,
                            max_sequence_length),
        epochs, steps_per_epoch, [*extra, *callbacks], verbose, strategy)
    return model, tokenizer


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
    source = data or settings["validation"]
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


def _labelled(progress, name):
    """`progress` with the stage named after the decoding."""
    return lambda stage, done, total: progress(f"{stage} ({name})", done,
                                               total)


def translation_scores(sources, translations, references):
    """sacrebleu's corpus BLEU and chrF of `translations` against one
    reference each, and the share of placeholders kept."""
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


