"""Python strings to token ids and back, through an in-graph tokenizer."""

import re

import numpy as np
import tensorflow as tf

from tfzoo.text.byte_pair_tokenizer import BytePairTokenizer


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
    two pieces; byte-level BPE's pieces end at a newline between two
    characters that are not white space (`_piece_end`).
    """
    text = valid_text(text)
    pieces, start = [], 0
    while start < len(text):
        end = _piece_end(tokenizer, text, start + CHUNK_CHARACTERS)
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


# A newline between two characters that are not white space: byte-level
# BPE's regexes (GPT-2's, Llama 3's, SmolLM's) make it a word of its own,
# or the end of a punctuation word before it, and read the text after it
# as they would read it alone. Python's white space holds the regexes'.
_BYTE_PAIR_PIECE_END = re.compile(r"(?<=\S)\n(?=\S)")


def _piece_end(tokenizer, text, position):
    """Where a piece of `text` that reaches `position` may end: after a
    newline at or after `position` that no token spans, else at the end."""
    if isinstance(tokenizer, BytePairTokenizer):
        if any("\n" in token for token in tokenizer.special_tokens):
            return len(text)  # a special token could span the newline
        found = _BYTE_PAIR_PIECE_END.search(text, position)
        return found.end() if found else len(text)
    end = text.find("\n", position)
    return len(text) if end < 0 else end + 1


def decode(tokenizer, ids):
    """Sequence of ids -> Python str."""
    text = tokenizer.detokenize(tf.constant(np.asarray(ids, np.int32)))
    if isinstance(text, str):  # keras-hub tokenizers return str in eager mode
        return text
    return text.numpy().decode("utf-8", errors="replace")


def encode_pieces(tokenizer, pieces, batch=4096):
    """`(ids, weights)` of texts cut into `(text, counted)` pieces: every
    piece tokenized on its own, one after the other, `weights` 1.0 on the
    tokens of the counted pieces and 0.0 elsewhere (both numpy arrays of
    shape `(tokens,)`; int32 and float32). Chat fine-tuning counts the
    assistant's tokens only (`chat_template.training_pieces`)."""
    ids, weights = [], []
    for start in range(0, len(pieces), batch):
        chunk = pieces[start:start + batch]
        ragged = tokenizer.tokenize(tf.constant(
            [valid_text(text) for text, _ in chunk]))
        for row, (_, counted) in zip(ragged.to_list(), chunk):
            ids.append(np.asarray(row, np.int32))
            weights.append(np.full(len(row), float(counted), np.float32))
    if not ids:
        return np.zeros(0, np.int32), np.zeros(0, np.float32)
    return np.concatenate(ids), np.concatenate(weights)
