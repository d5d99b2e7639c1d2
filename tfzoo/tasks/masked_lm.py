"""The masked-LM task: pretraining a BERT encoder on plain text.

Each non-empty line of the text is an example. The `tf.data` pipeline
tokenizes and packs it (`[CLS] line [SEP]`), then tensorflow-text's
`mask_language_model` picks 15% of the tokens (never [CLS], [SEP] or
padding) as targets: 80% of them become [MASK], 10% a random token and 10%
stay as they are (Devlin et al., 2018). `BertMaskedLM` learns to predict the
original tokens at those positions. A classifier can then start from the
run: `tfzoo train --model bert-classifier --init runs/NAME`.

The run folder holds, besides what every run holds, the preprocessor
(`vocab.txt`, `preprocessor.json`). The parts that
`tfzoo.training.lifecycle.train` runs, in its order, then `evaluate`,
`server` and `plots`, which refuse or do nothing: an MLM run's figures are
its validation loss and accuracy, in `logs/history.csv`.
"""

import math
import os
from typing import NamedTuple

import keras
import tensorflow as tf
import tensorflow_text as tf_text

from tfzoo.data.sources import load_text_splits
from tfzoo.models import BertEncoder, BertMaskedLM
from tfzoo.presets import get_preset
from tfzoo.progress import ProgressBars
from tfzoo.runs.run_folder import run_path
from tfzoo.text import word_piece_vocabulary
from tfzoo.text.bert_preprocessor import BertPreprocessor
from tfzoo.text.saving import (PREPROCESSOR_FILE, load_preprocessor as
                               load_saved_preprocessor, save_preprocessor)
from tfzoo.train_options import resolve_settings
from tfzoo.training.lifecycle import compile_for_training

TASK = "masked_lm"
MODELS = ("bert-mlm",)
# What to do with a finished run, said when training ends.
NEXT_STEP = ("fine-tune it with --model bert-classifier --init "
             "{run}")
COUNTED = False
SELECTION_RATE = 0.15


def make_settings(model="bert-mlm", preset=None, **options):
    """The settings of an MLM run (a BERT-mini encoder by default): see
    `tfzoo.train_options.TRAIN_OPTIONS`. `warmup_steps` `None` warms up
    over a tenth of the run. Given `validation_data`, the run trains on the
    whole of `data` and validates on the whole of `validation_data`, else
    on the last `validation_fraction` of `data`.

    Raises:
        ValueError: `max_sequence_length` below 3.
    """
    if model not in MODELS:
        raise ValueError(f"unknown masked LM {model!r}")
    settings = resolve_settings(model, dict(options, preset=preset))
    if settings["max_sequence_length"] < 3:
        raise ValueError(
            "max_sequence_length must be at least 3 ([CLS] x [SEP])")
    return {"task": TASK, **settings}


def upgrade_settings(settings):
    """Settings of older runs in today's form: the settings added since,
    with the values those runs had."""
    settings = dict(settings)
    for name, value in (("preset", "bert-mini-mlm"), ("steps", None),
                        ("global_batch_size", None), ("clip_norm", 1.0),
                        ("jit_compile", False), ("validation_data", None)):
        settings.setdefault(name, value)
    return settings


class Lines(NamedTuple):
    """The non-empty lines of the training and validation text."""

    train: list
    validation: list


def read_data(settings, data_dir=None):
    """The run's `Lines`.

    Raises:
        ValueError: no non-empty lines to train or validate on.
    """
    texts = load_text_splits(settings["data"], data_dir,
                             settings["validation_fraction"],
                             settings["validation_data"])
    lines = Lines(*([line for line in text.splitlines() if line.strip()]
                    for text in texts))
    if not lines.train or not lines.validation:
        raise ValueError(f"{settings['data']}: no non-empty lines to train "
                         "or validate on")
    return lines


def load_preprocessor(run_dir):
    """The preprocessor saved in `run_dir`, or None."""
    if not os.path.isfile(run_path(run_dir, PREPROCESSOR_FILE)):
        return None
    return load_saved_preprocessor(run_dir)


def make_preprocessor(settings, lines):
    """A WordPiece preprocessor learnt from the training lines."""
    return BertPreprocessor.from_texts(
        lines.train, settings["vocabulary_size"],
        settings["max_sequence_length"],
        progress=ProgressBars(word_piece_vocabulary.UNITS))


def encode(settings, preprocessor, lines):
    """The lines themselves: the input pipeline tokenizes and masks."""
    return lines


def batches_per_pass(settings, lines, batch_size):
    """Batches in one pass over the training lines."""
    return math.ceil(len(lines.train) / batch_size)


def datasets(settings, lines, preprocessor, batch_size, steps_per_epoch):
    """`(train, validation)`: an endless, seeded stream of shuffled, freshly
    masked training batches, and the validation lines once."""
    return (masked_lm_dataset(preprocessor, lines.train, batch_size,
                              shuffle=True, seed=settings["seed"],
                              repeat=True),
            masked_lm_dataset(preprocessor, lines.validation, batch_size))


def build(settings, preprocessor, lines=None):
    """The preset's encoder with a masked-LM head."""
    arguments = dict(get_preset(settings["preset"])["arguments"],
                     max_sequence_length=settings["max_sequence_length"],
                     dropout=settings["dropout"])
    encoder = BertEncoder(vocabulary_size=preprocessor.vocabulary_size(),
                          **arguments)
    return BertMaskedLM(encoder)


def compile(model, settings, total_steps=1, strategy=None):
    """Compiles for training (see `lifecycle.compile_for_training`): the
    learning rate decays to 0; accuracy at the masked positions, counted
    with their weights."""
    compile_for_training(
        model, settings, total_steps,
        [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        strategy, weighted=True, min_ratio=0.0)


def save(run_dir, preprocessor, lines=None):
    """Writes the preprocessor into the run folder."""
    save_preprocessor(preprocessor, run_dir)


def describe(settings, model, preprocessor, lines):
    """The banner's first line: model, vocabulary and data."""
    return (f"bert-mlm: {model.count_params():,} parameters, WordPiece "
            f"vocabulary of {preprocessor.vocabulary_size():,}. Data: "
            f"{len(lines.train):,} training and {len(lines.validation):,} "
            "validation lines.")


def batch_unit(settings, batch_size):
    """What one step reads, in words."""
    return f"{batch_size} lines"


def callbacks(settings, preprocessor, lines, run_dir, sample_every):
    """None: the MLM writes no samples."""
    return []


def evaluate(run, **options):
    """Refused: an MLM run's validation loss and accuracy are in its
    history.

    Raises:
        ValueError: always.
    """
    raise ValueError(f"{run.run_dir} is an MLM run; its validation loss "
                     "and accuracy are in logs/history.csv")


def report(metrics):
    """Never called: `evaluate` refuses."""
    raise ValueError("an MLM run has no evaluation report")


def server(run, **options):
    """Refused: an MLM encoder is exported as a classifier.

    Raises:
        ValueError: always.
    """
    raise ValueError(f"{run.run_dir} is an MLM run; export a language "
                     "model or a classifier (fine-tune it with --init)")


def plots(run_dir, out_dir, data_dir=None):
    """No plots beyond the training curves."""
    return []


def mask_tokens(preprocessor, token_ids, seed):
    """BERT's masking of a batch of packed ids `(batch, length)`: 15% of
    the tokens that are not [CLS], [SEP] or padding become targets, of which
    80% turn into [MASK], 10% into a random token and 10% stay
    (tensorflow-text's `mask_language_model`, as keras-hub's
    `MaskedLMMaskGenerator` calls it, with stateless random numbers drawn
    from `seed`, so that the masks are a function of the seed alone). At
    most `length // 4 + 1` targets per example: room for every selection
    but the rarest (binomial) excess.

    Args:
        preprocessor: the run's `BertPreprocessor`.
        token_ids: int32 `(batch, length)`.
        seed: int32 or int64 `(2,)`, a stateless random seed.

    Returns:
        `(token_ids, mask_positions, mask_ids, mask_weights)`: the masked
        ids, and per example the positions, original ids and weights (1.0;
        0.0 for padding) of its targets, padded to the same count.
    """
    ids = tf.RaggedTensor.from_tensor(token_ids)
    # A random key per token: each example's targets are its selectable
    # tokens of lowest keys (a shuffle, drawn without state).
    keys = tf.random.stateless_uniform([tf.size(ids.flat_values)], seed)
    selector = tf_text.RandomItemSelector(
        max_selections_per_batch=2**31 - 1, selection_rate=SELECTION_RATE,
        unselectable_ids=preprocessor.special_ids,
        shuffle_fn=lambda positions: tf.gather(
            positions, tf.argsort(tf.gather(keys, positions))))
    chooser = SeededMaskValues(preprocessor.vocabulary_size(),
                               preprocessor.mask_id, seed)
    masked, positions, originals = tf_text.mask_language_model(
        ids, item_selector=selector, mask_values_chooser=chooser)
    shape = tf.cast([-1, preprocessor.sequence_length // 4 + 1], tf.int64)
    weights = tf.ones_like(positions, tf.float32)
    return (masked.to_tensor(), positions.to_tensor(shape=shape),
            originals.to_tensor(shape=shape), weights.to_tensor(shape=shape))


class SeededMaskValues(tf_text.MaskValuesChooser):
    """tensorflow-text's `MaskValuesChooser` (80% [MASK], 10% a random
    token, 10% unchanged) with stateless random numbers from `seed`, as
    its documentation invites (override `get_mask_values`)."""

    def __init__(self, vocabulary_size, mask_token, seed):
        super().__init__(vocabulary_size, mask_token, mask_token_rate=0.8,
                         random_token_rate=0.1)
        self.seed = seed

    def get_mask_values(self, masked_lm_ids):
        flat = masked_lm_ids.flat_values
        draw = tf.random.stateless_uniform(tf.shape(flat), self.seed + 1)
        random_ids = tf.random.stateless_uniform(
            tf.shape(flat), self.seed + 2, maxval=self.vocab_size,
            dtype=flat.dtype)
        values = tf.where(draw < 0.8, tf.cast(self.mask_token, flat.dtype),
                          tf.where(draw < 0.9, random_ids, flat))
        return masked_lm_ids.with_flat_values(values)


def masked_lm_dataset(preprocessor, lines, batch_size, shuffle=False,
                      seed=0, repeat=False):
    """`(inputs, original ids, weights)` batches with fresh masks each pass.

    Batch `i` of the stream is masked with the stateless seed `(seed, i)`
    (`mask_tokens`): the masks are the same in every run with the same
    seed, new on each pass over the lines, and a resumed run's stream
    (`lifecycle.resume_stream`) masks as the killed run did.
    """
    dataset = tf.data.Dataset.from_tensor_slices(lines)
    if shuffle:
        dataset = dataset.shuffle(len(lines), seed=seed)
    if repeat:
        dataset = dataset.repeat()

    def mask(index, text):
        inputs = preprocessor(text)
        token_ids, positions, originals, weights = mask_tokens(
            preprocessor, inputs["token_ids"],
            tf.stack([tf.cast(seed, tf.int64), index]))
        features = {**inputs, "token_ids": token_ids,
                    "mask_positions": positions}
        return features, originals, weights

    dataset = dataset.batch(batch_size, drop_remainder=repeat).enumerate()
    return dataset.map(mask, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)
