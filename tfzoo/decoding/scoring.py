"""The log-likelihood of whole texts under a language model.

One rule scores text everywhere: the exported `score` signature,
`tfzoo.score` in Python and `tfzoo eval`. A text is cut into the
overlapping windows of `tfzoo.data.windows.scoring_windows` (stride: half
the max sequence length unless given), so a text of any length is scored
whole, each token after the first exactly once, with at least
`max_sequence_length - stride` tokens of context.
"""

import numpy as np
import tensorflow as tf
from keras import ops

from tfzoo.data.windows import default_stride, scoring_windows
from tfzoo.progress import ProgressBars

WINDOWS_PER_CALL = 32  # windows the model reads at once in `log_likelihood`
SCORING = "scoring"


def window_log_likelihoods(model, windows, counted):
    """Sum of the counted `log p(target | inputs)` of each window.

    Args:
        model: a language model: `(batch, L)` token ids -> `(batch, L,
            vocabulary)` logits.
        windows: int32 `(num_windows, L + 1)`, from `scoring_windows`.
        counted: bool `(num_windows, L)`, the targets to count.

    Returns:
        float32 `(num_windows,)`, in nats.
    """
    logits = model(windows[:, :-1], training=False)
    log_probabilities = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    picked = ops.take_along_axis(
        log_probabilities, windows[:, 1:, None], axis=-1)[:, :, 0]
    return ops.sum(ops.where(counted, picked, 0.0), axis=1)


def log_likelihood(model, token_ids, lengths, stride=None):
    """Log-likelihood of each text, scored whole (see the module docstring).

    Runs in a graph (a `tf.function` or SavedModel); the model reads
    `WINDOWS_PER_CALL` windows at a time, so memory stays bounded for
    texts of any length.

    Args:
        model: a `TransformerLM` or `LSTMLM`.
        token_ids: int32 `(batch, length)`, padded at the end.
        lengths: int32 `(batch,)`, each text's number of tokens.
        stride: int or None, in tokens; default half the max sequence
            length.

    Returns:
        `(log_likelihood, token_count)`: float32 `(batch,)` in nats, the
        sum of `log p(token_t | tokens before t)` over `t >= 1`, and int32
        `(batch,)`, the tokens scored: every token but the first.
    """
    length = int(model.max_sequence_length)
    if stride is None:
        stride = default_stride(length)
    windows, counted, text_index = scoring_windows(
        token_ids, lengths, length, stride)
    num_windows = tf.shape(windows)[0]
    calls = (num_windows + WINDOWS_PER_CALL - 1) // WINDOWS_PER_CALL
    extra = calls * WINDOWS_PER_CALL - num_windows
    windows = tf.reshape(tf.pad(windows, [[0, extra], [0, 0]]),
                         [calls, WINDOWS_PER_CALL, length + 1])
    counted = tf.reshape(tf.pad(counted, [[0, extra], [0, 0]]),
                         [calls, WINDOWS_PER_CALL, length])
    sums = tf.map_fn(
        lambda pair: window_log_likelihoods(model, *pair),
        (windows, counted),
        fn_output_signature=tf.float32,
        parallel_iterations=1,
    )
    sums = tf.reshape(sums, [-1])[:num_windows]
    batch = tf.shape(lengths)[0]
    return (tf.math.unsorted_segment_sum(sums, text_index, batch),
            tf.maximum(lengths - 1, 0))


def text_log_likelihood(model, token_ids, stride=None, batch_size=64,
                        jit_compile=True, verbose=True):
    """Log-likelihood of one long text (a corpus), as `tfzoo eval` scores
    it: the windows of `log_likelihood`, read `batch_size` at a time by an
    XLA-compiled step, with a progress bar on stderr.

    Args:
        model: a `TransformerLM` or `LSTMLM`.
        token_ids: 1-D int array, the text's token ids.
        stride: int or None, in tokens; default half the max sequence
            length.
        batch_size: int, windows per step.
        jit_compile: bool, compile the step with XLA.
        verbose: bool, show a progress bar (in windows) on stderr.

    Returns:
        `(log_likelihood, token_count)`: a float in nats (summed in
        float64) and an int, the tokens scored (all but the first).
    """
    length = int(model.max_sequence_length)
    if stride is None:
        stride = default_stride(length)
    token_ids = np.asarray(token_ids, np.int32)
    windows, counted, _ = scoring_windows(
        token_ids[None], [len(token_ids)], length, stride)
    windows, counted = windows.numpy(), counted.numpy()
    step = tf.function(
        lambda windows, counted: window_log_likelihoods(
            model, windows, counted),
        jit_compile=jit_compile)
    progress = ProgressBars({SCORING: "windows"}, verbose)
    total = 0.0
    progress(SCORING, 0, len(windows))
    for start in range(0, len(windows), batch_size):
        batch_windows = windows[start:start + batch_size]
        batch_counted = counted[start:start + batch_size]
        size = len(batch_windows)
        if size < batch_size:  # one shape, one compilation
            extra = batch_size - size
            batch_windows = np.pad(batch_windows, [[0, extra], [0, 0]])
            batch_counted = np.pad(batch_counted, [[0, extra], [0, 0]])
        sums = step(batch_windows, batch_counted).numpy()[:size]
        total += float(np.sum(sums, dtype=np.float64))
        progress(SCORING, start + size, len(windows))
    return total, int(counted.sum())
