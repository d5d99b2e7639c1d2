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


CHUNK_CHARACTERS = 1_000_000  # see `encode`


def encode(tokenizer, text, progress=None):
    """Python str -> int32 numpy array of shape `(tokens,)`.

    A text longer than `CHUNK_CHARACTERS` is tokenized in pieces that end
    at a newline, each reported to `progress("tokenizing", characters done,
    characters)` (such as `tfzoo.progress.ProgressBars`). The ids are the
    same: a newline is a token of its own for tfzoo's tokenizers (one id
    per character; a SentencePiece user-defined symbol), so no token spans
    two pieces.
    """
    text = valid_text(text)
    pieces, start = [], 0
    while start < len(text):
        end = text.find("\n", start + CHUNK_CHARACTERS)
        end = len(text) if end < 0 else end + 1
        pieces.append(text[start:end])
        start = end
    if len(pieces) <= 1:
        return np.asarray(tokenizer.tokenize(tf.constant(text)), np.int32)
    progress = progress or (lambda stage, done, total: None)
    ids, done = [], 0
    progress("tokenizing", done, len(text))
    for piece in pieces:
        ids.append(np.asarray(tokenizer.tokenize(tf.constant(piece)),
                              np.int32))
        done += len(piece)
        progress("tokenizing", done, len(text))
    return np.concatenate(ids)


def decode(tokenizer, ids):
    """Sequence of ids -> Python str."""
    text = tokenizer.detokenize(tf.constant(np.asarray(ids, np.int32)))
    if isinstance(text, str):  # keras-hub tokenizers return str in eager mode
        return text
    return text.numpy().decode("utf-8", errors="replace")
