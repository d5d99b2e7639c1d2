"""Labelled text for classification: TSV/CSV files or TFDS, bucketed batches.

A file has a header row naming its columns; GLUE SST-2's layout
(`sentence<TAB>label`) works with the defaults. Files are read by
`tfzoo.data.table`: `.csv` comma-separated, anything else tab-separated,
quoted fields as spreadsheets write them; a row with more or fewer fields
than the header is an error (or, with `skip_bad_rows`, skipped and
counted). Labels are read without surrounding whitespace, so
`"1 "` and `"1"` are one class.
"""

import os

import numpy as np
import tensorflow as tf

from tfzoo.data.sources import prepare_tfds, resolve_path
from tfzoo.data.table import read_table


class LabelledText:
    """Texts (and optional second texts) with their labels as strings."""

    def __init__(self, texts, labels, pairs=None):
        self.texts = list(texts)
        self.labels = [str(label) for label in labels]
        self.pairs = None if pairs is None else list(pairs)

    def __len__(self):
        return len(self.texts)


def read_labelled(source, data_dir=None, text_column="sentence",
                  label_column="label", pair_column=None, split="train",
                  skip_bad_rows=False, quoting="auto"):
    """Reads a TSV/CSV file, or a TFDS dataset such as `glue/sst2`.

    Args:
        source: a file path (absolute, relative, or under the data folder)
            or a TFDS name with a `/` (e.g. `glue/sst2`).
        data_dir: str or None, the data folder (default `$TFZOO_DATA_DIR`).
        text_column, label_column: column (or TFDS feature) names.
        pair_column: column of the second text of a pair, or None.
        split: the TFDS split to read.
        skip_bad_rows: bool; skip rows with more or fewer fields than the
            header (their count is printed on stderr) instead of refusing
            the file.
        quoting: `"auto"`, `"csv"` or `"none"`: how quotes are read (see
            `tfzoo.data.table`).

    Returns:
        A `LabelledText`.

    Raises:
        ValueError: a missing file or column, an empty file, a row with
            more or fewer fields than the header or with an empty field
            (named by its line number), a file with no valid row.
    """
    path = resolve_path(source, data_dir)
    if path is None:
        if "/" in source and not os.path.splitext(source)[1]:
            return _read_tfds(source, data_dir, split, text_column,
                              label_column, pair_column)
        raise ValueError(f"{source}: no such file")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder; give a TSV or CSV file")
    wanted = [c for c in (text_column, label_column, pair_column) if c]
    values = read_table(path, wanted, skip_bad_rows, quoting)
    labels = [label.strip() for label in values[label_column]]
    return LabelledText(values[text_column], labels,
                        values[pair_column] if pair_column else None)


def _read_tfds(name, data_dir, split, text_column, label_column,
               pair_column):
    import tensorflow_datasets as tfds

    builder = tfds.builder(name)
    prepare_tfds(builder, data_dir)

    texts, pairs, labels = [], [], []
    for example in tfds.as_numpy(builder.as_dataset(split=split)):
        texts.append(example[text_column].decode("utf-8"))
        labels.append(int(example[label_column]))
        if pair_column:
            pairs.append(example[pair_column].decode("utf-8"))
    return LabelledText(texts, labels, pairs if pair_column else None)


def label_names(labelled, labels=None):
    """The class names: `labels` if given, else the training labels sorted
    (numerically when they are all integers)."""
    if labels:
        return list(labels)
    names = sorted(set(labelled.labels))
    if all(name.lstrip("-").isdigit() for name in names):
        names = sorted(names, key=int)
    return names


def label_ids(labelled, names, source):
    """Each example's class index; an unknown label is an error."""
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(labelled.labels) - set(index))
    if unknown:
        raise ValueError(
            f"{source}: label(s) {', '.join(map(repr, unknown[:5]))} are not "
            f"among the classes {', '.join(map(repr, names))}"
        )
    return np.array([index[label] for label in labelled.labels], np.int32)


def classification_dataset(preprocessor, labelled, ids, batch_size,
                           shuffle=False, seed=0, repeat=False):
    """A `tf.data` pipeline of `(encoder inputs, label id)` batches.

    Each example is tokenized and packed in the graph, cut to its real
    length, and batched with examples of similar length
    (`bucket_by_sequence_length`), so a batch is padded only to its own
    longest example, not to the maximum length.
    """
    columns = {"text": labelled.texts}
    if labelled.pairs is not None:
        columns["text_pair"] = labelled.pairs
    dataset = tf.data.Dataset.from_tensor_slices((columns, ids))
    if shuffle:
        dataset = dataset.shuffle(len(ids), seed=seed,
                                  reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()

    def encode(example, label):
        inputs = preprocessor(example["text"], example.get("text_pair"))
        length = tf.reduce_sum(inputs["padding_mask"])
        return {k: v[:length] for k, v in inputs.items()}, label

    dataset = dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    # Buckets of lengths up to 16, 32, 64, ... tokens; a batch is padded to
    # its bucket's length, so a compiled model sees only these few shapes.
    maximum = preprocessor.sequence_length
    lengths = [b for b in (16, 32, 64, 128, 256) if b < maximum] + [maximum]
    dataset = dataset.bucket_by_sequence_length(
        lambda inputs, label: tf.shape(inputs["token_ids"])[0],
        bucket_boundaries=[length + 1 for length in lengths],
        bucket_batch_sizes=[batch_size] * (len(lengths) + 1),
        padding_values=({"token_ids": preprocessor.pad_id, "segment_ids": 0,
                         "padding_mask": 0}, 0),
        pad_to_bucket_boundary=True,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
