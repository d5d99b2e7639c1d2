"""Picking the next token from logits: greedy, temperature, top-k, top-p."""

import tensorflow as tf
from keras import ops


def next_token(logits, temperature, top_k, top_p, seed):
    """Chooses one token id per row of `logits`.

    The rules, applied in this order:

    - `temperature <= 0`: greedy, the most likely token.
    - otherwise the logits are divided by `temperature` (below 1 sharpens,
      above 1 flattens) and sampling is restricted to
      - the `top_k` most likely tokens (`top_k <= 0`: no limit), and
      - the nucleus: the fewest most likely tokens whose probabilities add
        up to at least `top_p` (Holtzman et al., 2019; `top_p >= 1`: no
        limit). The most likely token is always in it.

    Every argument may be a tensor, so one compiled graph serves all
    settings (an exported model takes them as inputs).

    Args:
        logits: float tensor `(batch, vocabulary)`.
        temperature: float scalar.
        top_k: int scalar.
        top_p: float scalar.
        seed: int32 tensor of shape `(2,)`, a stateless random seed; the
            same seed and logits always give the same tokens.

    Returns:
        int32 tensor `(batch,)`.

    Example:
    >>> logits = keras.ops.convert_to_tensor([[0.0, 3.0, 1.0]])
    >>> int(next_token(logits, 0.0, 0, 1.0, [1, 0])[0])  # greedy
    1
    """
    logits = ops.cast(logits, "float32")
    greedy = ops.cast(ops.argmax(logits, axis=-1), "int32")
    temperature = ops.cast(temperature, "float32")
    # Only sampling sorts the vocabulary: greedy decoding of a subword
    # model would otherwise pay for a sort of every row at every step.
    return ops.cond(
        temperature > 0,
        lambda: _sample(logits, temperature, top_k, top_p, seed),
        lambda: greedy,
    )


def _sample(logits, temperature, top_k, top_p, seed):
    """`next_token` with `temperature > 0`."""
    vocabulary_size = ops.shape(logits)[-1]
    scaled = logits / ops.maximum(temperature, 1e-6)
    descending, _ = ops.top_k(scaled, k=vocabulary_size, sorted=True)

    # Top-k: keep logits at least as large as the k-th largest.
    k = ops.cast(top_k, "int32")
    k = ops.where(k > 0, ops.minimum(k, vocabulary_size), vocabulary_size)
    kth_largest = ops.take(descending, k - 1, axis=-1)
    descending = ops.where(
        descending >= kth_largest[:, None], descending, float("-inf")
    )

    # Top-p: a token is in the nucleus if the tokens more likely than it
    # carry less than top_p of the probability.
    probabilities = ops.softmax(descending, axis=-1)
    mass_before = ops.cumsum(probabilities, axis=-1) - probabilities
    top_p = ops.cast(top_p, "float32")
    in_nucleus = ops.logical_or(mass_before < top_p, top_p >= 1.0)
    in_nucleus = ops.logical_or(in_nucleus, ops.arange(vocabulary_size) == 0)
    in_nucleus = ops.logical_and(in_nucleus, descending > float("-inf"))
    smallest_kept = ops.min(
        ops.where(in_nucleus, descending, float("inf")), axis=-1
    )

    filtered = ops.where(
        scaled >= smallest_kept[:, None], scaled, float("-inf")
    )
    # keras.random takes no tensor seeds; the stateless TensorFlow op does,
    # which is what a serving signature with a `seed` input needs.
    sampled = tf.random.stateless_categorical(
        filtered, 1, seed=seed, dtype=tf.int32
    )[:, 0]
    return sampled
