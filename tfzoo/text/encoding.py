"""Python strings to token ids and back, through an in-graph tokenizer."""

import numpy as np
import tensorflow as tf


def valid_text(text):
    """`text` with anything that is not valid UTF-8 replaced by U+FFFD.

    Bytes that are not UTF-8 reach Python (from a command line or a file
    read with `surrogateescape`) as lone surrogates, which TensorFlow cannot
    take; they come back here as U+FFFD, as the in-graph tokenizers treat
    invalid bytes.
    """
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


def encode(tokenizer, text):
    """Python str -> int32 numpy array of shape `(tokens,)`."""
    return np.asarray(tokenizer.tokenize(tf.constant(valid_text(text))),
                      np.int32)


def decode(tokenizer, ids):
    """Sequence of ids -> Python str."""
    text = tokenizer.detokenize(tf.constant(np.asarray(ids, np.int32)))
    if isinstance(text, str):  # keras-hub tokenizers return str in eager mode
        return text
    return text.numpy().decode("utf-8", errors="replace")
