"""Masked-language-model pretraining of a BERT encoder on plain text.

Each non-empty line of the text is an example. The `tf.data` pipeline
tokenizes and packs it (`[CLS] line [SEP]`), then keras-hub's
`MaskedLMMaskGenerator` picks 15% of the tokens (never [CLS], [SEP] or
padding) as targets: 80% of them become [MASK], 10% a random token and 10%
stay as they are (Devlin et al., 2018). `BertMaskedLM` learns to predict the
original tokens at those positions. A classifier can then start from the
run: `tfzoo train --model bert-classifier --init runs/NAME`.

The masked-LM sibling of `language_model` and `classifier`: it builds the
data and the model, and leaves the run's life to `lifecycle`.
"""

import math

import keras
import keras_hub
import tensorflow as tf

from tfzoo.choices import TASKS
from tfzoo.data import load_text_splits
from tfzoo.models import BertEncoder, BertMaskedLM
from tfzoo.presets import ENCODER_MAX_SEQUENCE_LENGTH, ENCODER_SIZES
from tfzoo.progress import ProgressBars
from tfzoo.text import word_piece_vocabulary
from tfzoo.text.bert_preprocessor import BertPreprocessor
from tfzoo.text.saving import save_preprocessor
from tfzoo.training.distribute import describe
from tfzoo.training.lifecycle import (compile_for_training, fit_and_save,
                                      look_at_run, open_run)

TASK = "masked_lm"
MODELS = TASKS[TASK]
SELECTION_RATE = 0.15


def make_mlm_settings(data, validation_fraction=0.1, validation_data=None,
                      max_sequence_length=ENCODER_MAX_SEQUENCE_LENGTH,
                      vocabulary_size=8000, epochs=1, steps_per_epoch=None,
                      batch_size=32, learning_rate=5e-4, warmup_steps=None,
                      dropout=0.1, weight_decay=0.01, seed=1337):
    """The settings of an MLM run (a `bert-classifier`-sized encoder).

    `warmup_steps` `None` warms up over a tenth of the run. Given
    `validation_data`, the run trains on the whole of `data` and validates
    on the whole of `validation_data`, else on the last
    `validation_fraction` of `data`.

    Raises:
        ValueError: `max_sequence_length` below 3.
    """
    if max_sequence_length < 3:
        raise ValueError(
            "max_sequence_length must be at least 3 ([CLS] x [SEP])")
    return {
        "task": TASK, "model": "bert-mlm", "data": data,
        "validation_fraction": (
            None if validation_data is not None else validation_fraction),
        "validation_data": validation_data,
        "max_sequence_length": max_sequence_length,
        "vocabulary_size": vocabulary_size, "epochs": epochs,
        "steps_per_epoch": steps_per_epoch, "batch_size": batch_size,
        "learning_rate": learning_rate, "warmup_steps": warmup_steps,
        "dropout": dropout, "weight_decay": weight_decay, "seed": seed,
    }


def mask_generator(preprocessor):
    """keras-hub's 15% / 80-10-10 masking for `preprocessor`'s ids."""
    return keras_hub.layers.MaskedLMMaskGenerator(
        vocabulary_size=preprocessor.vocabulary_size(),
        mask_selection_rate=SELECTION_RATE,
        mask_token_id=preprocessor.mask_id,
        # Room for every selection but the rarest (binomial) excess.
        mask_selection_length=preprocessor.sequence_length // 4 + 1,
        unselectable_token_ids=preprocessor.special_ids,
        mask_token_rate=0.8,
        random_token_rate=0.1,
    )


def masked_lm_dataset(preprocessor, lines, batch_size, shuffle=False,
                      seed=0, repeat=False):
    """`(inputs, original ids, weights)` batches with fresh masks each pass.
    """
    masker = mask_generator(preprocessor)
    dataset = tf.data.Dataset.from_tensor_slices(lines)
    if shuffle:
        dataset = dataset.shuffle(len(lines), seed=seed)
    if repeat:
        dataset = dataset.repeat()

    def mask(text):
        inputs = preprocessor(text)
        masked = masker(inputs["token_ids"])
        features = {**inputs, "token_ids": masked["token_ids"],
                    "mask_positions": masked["mask_positions"]}
        return features, masked["mask_ids"], masked["mask_weights"]

    dataset = dataset.batch(batch_size, drop_remainder=repeat)
    return dataset.map(mask, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)


def train_masked_lm(settings, run_dir, data_dir=None, overwrite=False,
                    callbacks=(), verbose="auto", strategy=None):
    """Pretrains (or resumes) the MLM run under `strategy` (default: the
    current one); returns `(model, preprocessor)`.
    """
    strategy = strategy or tf.distribute.get_strategy()
    # Data, preprocessor and model are made before anything is written, so
    # that a run refused for its data leaves no run folder behind.
    _, finished = look_at_run(run_dir, settings, overwrite, strategy)
    if finished:
        return finished.model, finished.tokenizer

    keras.utils.set_random_seed(settings["seed"])
    train_text, validation_text = load_text_splits(
        settings["data"], data_dir, settings["validation_fraction"],
        settings.get("validation_data"))
    train_lines = _lines(train_text)
    validation_lines = _lines(validation_text)
    if not train_lines or not validation_lines:
        raise ValueError(f"{settings['data']}: no non-empty lines to train "
                         "or validate on")

    preprocessor = BertPreprocessor.from_texts(
        train_lines, settings["vocabulary_size"],
        settings["max_sequence_length"], progress=ProgressBars(
            word_piece_vocabulary.UNITS))
    batch_size = settings["batch_size"] * strategy.num_replicas_in_sync
    steps_per_epoch = settings["steps_per_epoch"] or math.ceil(
        len(train_lines) / batch_size)
    with strategy.scope():
        encoder = BertEncoder(
            vocabulary_size=preprocessor.vocabulary_size(),
            max_sequence_length=settings["max_sequence_length"],
            dropout=settings["dropout"], **ENCODER_SIZES["bert-classifier"])
        model = BertMaskedLM(encoder)
        compile_for_training(
            model, settings, steps_per_epoch * settings["epochs"],
            [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            strategy, weighted=True, min_ratio=0.0)
    strategy, chief, state = open_run(run_dir, settings, overwrite, strategy)
    if chief:
        save_preprocessor(preprocessor, run_dir)
    print(f"bert-mlm: {model.count_params():,} parameters, WordPiece "
          f"vocabulary of {preprocessor.vocabulary_size():,}. Data: "
          f"{len(train_lines):,} training and {len(validation_lines):,} "
          f"validation lines. {settings['epochs']} epochs x "
          f"{steps_per_epoch} steps of {batch_size}; {describe(strategy)}.")
    fit_and_save(
        model, run_dir,
        masked_lm_dataset(preprocessor, train_lines, batch_size,
                          shuffle=True, seed=settings["seed"], repeat=True),
        masked_lm_dataset(preprocessor, validation_lines, batch_size),
        settings["epochs"], steps_per_epoch, callbacks, verbose, strategy,
    )
    return model, preprocessor


def _lines(text):
    return [line for line in text.splitlines() if line.strip()]
