"""`tf.data` pipelines of fixed-length windows for language modelling.

A window holds `max_sequence_length + 1` tokens; the model reads the first
`max_sequence_length` and predicts the last `max_sequence_length` (the inputs shifted
by one).
"""

import numpy as np
import tensorflow as tf


def count_windows(num_tokens, max_sequence_length):
    """Number of non-overlapping windows (they share one boundary token)."""
    return max(0, (num_tokens - 1) // max_sequence_length)


def _check_length(token_ids, max_sequence_length, what):
    if count_windows(len(token_ids), max_sequence_length) < 1:
        raise ValueError(
            f"the {what} text has {len(token_ids)} tokens, fewer than one "
            f"window of {max_sequence_length + 1} (max sequence length + 1); "
            "use a longer text or a shorter --max-sequence-length"
        )


def _split_window(windows, weights=None):
    """`(inputs, targets)`, and the targets' weights if given."""
    if weights is None:
        return windows[..., :-1], windows[..., 1:]
    return windows[..., :-1], windows[..., 1:], weights[..., 1:]


def training_windows(
    token_ids,
    max_sequence_length,
    batch_size,
    steps_per_epoch,
    seed=0,
    first_epoch=0,
    weights=None,
):
    """An endless, shuffled stream of `(inputs, targets)` batches.

    Epoch `e` is a fixed function of `(seed, e)`: a random permutation of
    the window slots, each window shifted by a random offset within its slot
    so that successive epochs see the text cut at different places. The
    stream starts at `first_epoch`, so a run resumed from a backup sees the
    same data as one that never stopped.

    Args:
        token_ids: 1-D int array, the tokenized training text.
        max_sequence_length: int, the model's max sequence length: the
            length of each window.
        batch_size: int.
        steps_per_epoch: int, batches per epoch.
        seed: int.
        first_epoch: int, the epoch the stream starts with.
        weights: float array like `token_ids` or None: each token's
            weight as a target (chat data counts the assistant's
            tokens only); given, the batches are `(inputs, targets,
            target weights)`.

    Returns:
        A `tf.data.Dataset` of `(inputs, targets)`, each
        `(batch_size, max_sequence_length)` int32.
    """
    _check_length(token_ids, max_sequence_length, "training")
    token_ids = tf.constant(np.asarray(token_ids, np.int32))
    tensors = (token_ids,) if weights is None else (
        token_ids, tf.constant(np.asarray(weights, np.float32)))
    num_windows = count_windows(len(token_ids), max_sequence_length)
    last_start = len(token_ids) - max_sequence_length - 1
    windows_per_epoch = steps_per_epoch * batch_size

    def epoch_windows(epoch):
        epoch_seed = tf.stack([tf.constant(seed, tf.int64), epoch])
        slots = tf.random.experimental.stateless_shuffle(
            tf.range(num_windows, dtype=tf.int64), seed=epoch_seed
        )
        offsets = tf.random.stateless_uniform(
            [windows_per_epoch],
            seed=epoch_seed + 1,
            maxval=max_sequence_length,
            dtype=tf.int64,
        )
        slot = tf.gather(slots, tf.range(windows_per_epoch) % num_windows)
        starts = tf.minimum(slot * max_sequence_length + offsets, last_start)
        return tf.data.Dataset.from_tensor_slices(starts)

    def window_at(start):
        return tuple(tensor[start : start + max_sequence_length + 1]
                     for tensor in tensors)

    return (
        tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
        .flat_map(epoch_windows)
        .map(window_at, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size, drop_remainder=True)
        .map(_split_window, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def evaluation_windows(token_ids, max_sequence_length, batch_size,
                       weights=None):
    """Every window of the text in order, each target token predicted once.

    The last batch may be smaller than `batch_size`. With `weights` (see
    `training_windows`) the batches carry the targets' weights.
    """
    _check_length(token_ids, max_sequence_length, "validation")
    num_windows = count_windows(len(token_ids), max_sequence_length)
    token_ids = np.asarray(token_ids, np.int32)
    starts = np.arange(num_windows) * max_sequence_length
    positions = starts[:, None] + np.arange(max_sequence_length + 1)
    windows = (token_ids[positions],)
    if weights is not None:
        windows += (np.asarray(weights, np.float32)[positions],)
    return (
        tf.data.Dataset.from_tensor_slices(windows)
        .batch(batch_size)
        .map(_split_window, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def default_stride(max_sequence_length):
    """Half the max sequence length (at least 1): the stride of
    `scoring_windows` unless one is given."""
    return max(1, max_sequence_length // 2)


def scoring_windows(token_ids, lengths, max_sequence_length, stride):
    """Windows that score whole texts of any length, each token once.

    Window `k` of a text reads its tokens `[k * stride, k * stride + L)`
    (`L` = `max_sequence_length`) and predicts the next `L`. The first
    window counts all its predictions; each later window counts only the
    tokens no earlier window predicted: its last `stride` ones, which thus
    see at least `L - stride` tokens of context. Every token but a text's
    first (which has no context) is counted exactly once, so a text of `n`
    tokens has `n - 1` counted predictions. With `stride == L` the windows
    do not overlap (faster, less context for the first tokens of each).

    Built from TensorFlow ops, so it runs eagerly (`tfzoo eval`) and in a
    SavedModel's graph (the `score` signature) alike.

    Args:
        token_ids: int32 tensor `(batch, length)`, the texts' token ids,
            padded at the end.
        lengths: int32 tensor `(batch,)`, each text's number of tokens.
        max_sequence_length: int, `L`.
        stride: int from 1 to `L`, in tokens.

    Returns:
        `(windows, counted, text_index)`: int32 `(num_windows, L + 1)` (a
        window's inputs are `[:, :-1]`, its targets `[:, 1:]`), bool
        `(num_windows, L)` (the targets counted), and int32
        `(num_windows,)`, the text each window belongs to. Windows that
        count nothing (past a short text's end) are left out.

    Raises:
        ValueError: a stride outside `[1, L]`.
    """
    if not 1 <= stride <= max_sequence_length:
        raise ValueError(f"the stride must be from 1 to the max sequence "
                         f"length {max_sequence_length}, got {stride}")
    token_ids = tf.convert_to_tensor(token_ids, tf.int32)
    lengths = tf.convert_to_tensor(lengths, tf.int32)
    # Each text's windows: one if it has 2 to L + 1 tokens, one more per
    # `stride` tokens beyond; none if it has fewer than 2 (nothing counts).
    windows_per_text = tf.where(
        lengths >= 2,
        1 + (tf.maximum(lengths - 1 - max_sequence_length, 0) + stride - 1)
        // stride,
        0)
    window_numbers = tf.ragged.range(windows_per_text)
    text_index = tf.cast(window_numbers.value_rowids(), tf.int32)
    number = window_numbers.flat_values  # k, the window's place in its text
    starts = number * stride
    positions = starts[:, None] + tf.range(max_sequence_length + 1)[None, :]
    # Pad the texts so that every window's last position exists.
    width = tf.shape(token_ids)[1]
    needed = tf.reduce_max(tf.concat([positions[:, -1] + 1, [width]], 0))
    token_ids = tf.pad(token_ids, [[0, 0], [0, needed - width]])
    text_of_position = tf.broadcast_to(text_index[:, None],
                                       tf.shape(positions))
    windows = tf.gather_nd(token_ids,
                           tf.stack([text_of_position, positions], -1))
    # A target counts if no earlier window predicted it and the text has it.
    targets = positions[:, 1:]
    last_predicted_before = tf.where(
        number > 0, starts - stride + max_sequence_length, 0)
    counted = ((targets > last_predicted_before[:, None])
               & (targets < tf.gather(lengths, text_index)[:, None]))
    return windows, counted, text_index
