"""Sentence pairs for translation: TSV/CSV files or TFDS, bucketed batches.

A parallel file is a table (`tfzoo.data.table`) with a source and a target
column, `en` and `de` by default (the layout of the shared
`translation_en_de` corpus). A TFDS translation dataset such as
`ted_hrlr_translate/pt_to_en` works too, its features naming the columns.

For training, each pair becomes three id sequences (teacher forcing):

    encoder_token_ids  x [EOS]         the source sentence
    decoder_token_ids  [BOS] y         what the decoder reads
    targets            y [EOS]         what it must predict, one step ahead

each at most `max_sequence_length` tokens, padded with the pad id in
batches of similar length. Longer pairs are truncated and counted; a cut
target ends without `[EOS]` (its next token instead).
"""

import os
import sys
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfzoo.data.sources import prepare_tfds, resolve_path
from tfzoo.data.table import read_table


class ParallelText(NamedTuple):
    """Source sentences and their translations, as two lists of str."""

    sources: list
    targets: list


class EncodedPairs(NamedTuple):
    """Pairs as token ids (`encode_pairs`): three lists of int lists."""

    encoder_token_ids: list
    decoder_token_ids: list
    targets: list

    def __len__(self):
        return len(self.targets)


def read_parallel(source, data_dir=None, source_column="en",
                  target_column="de", split="train", skip_bad_rows=False,
                  quoting="auto"):
    """Reads sentence pairs from a TSV/CSV file or a TFDS dataset.

    Args:
        source: a file path (absolute, relative, or under the data folder)
            or a TFDS name with a `/` (e.g. `ted_hrlr_translate/pt_to_en`).
        data_dir: str or None, the data folder (default `$TFZOO_DATA_DIR`).
        source_column, target_column: column (or TFDS feature) names.
        split: the TFDS split to read.
        skip_bad_rows, quoting: see `tfzoo.data.table.read_table`.

    Returns:
        A `ParallelText`.

    Raises:
        ValueError: a missing file or column, one column named twice, an
            empty file, a bad row (named by file and line), no pairs.
    """
    if source_column == target_column:
        raise ValueError(f"the source and target columns are both "
                         f"{source_column!r}")
    path = resolve_path(source, data_dir)
    if path is None:
        if "/" in source and not os.path.splitext(source)[1]:
            return _read_tfds(source, data_dir, split, source_column,
                              target_column)
        raise ValueError(f"{source}: no such file")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder; give a TSV or CSV file")
    values = read_table(path, [source_column, target_column], skip_bad_rows,
                        quoting)
    return ParallelText(values[source_column], values[target_column])


def _read_tfds(name, data_dir, split, source_column, target_column):
    import tensorflow_datasets as tfds

    builder = tfds.builder(name)
    prepare_tfds(builder, data_dir)

    sources, targets = [], []
    for example in tfds.as_numpy(builder.as_dataset(split=split)):
        sources.append(example[source_column].decode("utf-8"))
        targets.append(example[target_column].decode("utf-8"))
    return ParallelText(sources, targets)


def encode_pairs(tokenizer, pairs, max_sequence_length, bos_id, eos_id,
                 name="the data"):
    """Tokenizes sentence pairs for teacher forcing (see the module
    docstring). Pairs whose source or target does not fit in
    `max_sequence_length` tokens (with `[EOS]`/`[BOS]`) are truncated and
    counted in one line on stderr.

    Args:
        tokenizer: a keras-hub `SentencePieceTokenizer` (any tokenizer
            whose `tokenize` takes a batch of strings).
        pairs: a `ParallelText`.
        max_sequence_length: int, at least 2.
        bos_id, eos_id: int, the begin and end of sentence ids.
        name: str, how the warning names the data.

    Returns:
        `EncodedPairs`.
    """
    sources = _token_lists(tokenizer, pairs.sources)
    targets = _token_lists(tokenizer, pairs.targets)
    keep = max_sequence_length - 1
    truncated = sum(len(s) > keep or len(t) > keep
                    for s, t in zip(sources, targets))
    if truncated:
        print(f"{name}: {truncated:,} of {len(sources):,} pairs are longer "
              f"than {max_sequence_length} tokens; truncated",
              file=sys.stderr)
    return EncodedPairs(
        [s[:keep] + [eos_id] for s in sources],
        [[bos_id] + t[:keep] for t in targets],
        # A cut target goes on where it is cut: teaching `[EOS]` there
        # would teach the model to stop early.
        [t[:keep] + [eos_id] if len(t) <= keep else t[:keep + 1]
         for t in targets],
    )


def _token_lists(tokenizer, texts, batch=4096):
    ids = []
    for start in range(0, len(texts), batch):
        chunk = tokenizer.tokenize(tf.constant(texts[start:start + batch]))
        # keras-hub hands eager results back as lists.
        ids.extend(chunk if isinstance(chunk, list) else chunk.to_list())
    return ids


def translation_dataset(pairs, pad_id, batch_size, max_sequence_length,
                        shuffle=False, seed=0, repeat=False):
    """A `tf.data` pipeline of `(inputs, targets)` batches for `model.fit`.

    `inputs` is the dict the translation models take
    (`encoder_token_ids`, `encoder_padding_mask`, `decoder_token_ids`),
    `targets` int32 `(batch, target_length)` with `pad_id` after each
    sentence's `[EOS]` (the loss and metrics skip it). Pairs are batched
    with pairs of similar length (`bucket_by_sequence_length`), each batch
    padded to its bucket's length (16, 32, 64, ... tokens), so a compiled
    model sees a few shapes only.

    Args:
        pairs: `EncodedPairs`.
        pad_id: int.
        batch_size: int, pairs per batch.
        max_sequence_length: int, the longest sequence in `pairs`.
        shuffle, seed, repeat: shuffle (reshuffled each epoch) and repeat.
    """
    def ragged(lists):
        return tf.ragged.constant(lists, dtype=tf.int32, ragged_rank=1)

    dataset = tf.data.Dataset.from_tensor_slices((
        ragged(pairs.encoder_token_ids), ragged(pairs.decoder_token_ids),
        ragged(pairs.targets)))
    if shuffle:
        dataset = dataset.shuffle(len(pairs), seed=seed,
                                  reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()

    def to_example(source, decoder_input, target):
        return ({"encoder_token_ids": source,
                 "encoder_padding_mask": tf.ones_like(source),
                 "decoder_token_ids": decoder_input}, target)

    dataset = dataset.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
    lengths = [b for b in (16, 32, 64, 128, 256)
               if b < max_sequence_length] + [max_sequence_length]
    boundaries = [length + 1 for length in lengths]
    dataset = dataset.bucket_by_sequence_length(
        lambda inputs, target: tf.maximum(
            tf.shape(inputs["encoder_token_ids"])[0], tf.shape(target)[0]),
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(lengths) + 1),
        padding_values=({"encoder_token_ids": pad_id,
                         "encoder_padding_mask": 0,
                         "decoder_token_ids": pad_id}, pad_id),
        pad_to_bucket_boundary=True,
    )
    if not repeat:
        # Buckets hide the number of batches from tf.data; Keras then
        # warns that the data "ran out" at the end of every pass.
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(
            _batch_count(pairs, boundaries, batch_size)))
    return dataset.prefetch(tf.data.AUTOTUNE)


def _batch_count(pairs, boundaries, batch_size):
    """The batches `bucket_by_sequence_length` makes of `pairs`."""
    lengths = np.maximum([len(s) for s in pairs.encoder_token_ids],
                         [len(t) for t in pairs.targets])
    buckets = np.searchsorted(boundaries, lengths, side="right")
    counts = np.bincount(buckets, minlength=len(boundaries) + 1)
    return int(sum(-(-count // batch_size) for count in counts))


def count_tokens(pairs):
    """`(source tokens, target tokens)` of `EncodedPairs`, `[EOS]`
    included: what the models read and predict."""
    return (int(sum(map(len, pairs.encoder_token_ids))),
            int(sum(map(len, pairs.targets))))


def token_array(lists, pad_id):
    """A list of int lists as an int32 array padded with `pad_id`."""
    width = max(map(len, lists), default=0)
    array = np.full((len(lists), width), pad_id, np.int32)
    for row, ids in zip(array, lists):
        row[:len(ids)] = ids
    return array
