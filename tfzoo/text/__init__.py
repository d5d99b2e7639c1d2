"""In-graph tokenizers and how a run folder stores them.

Both kinds tokenize `tf.string` tensors with TensorFlow ops, so they work in
`tf.data` pipelines and inside an exported SavedModel:

- `CharTokenizer`: one id per character, vocabulary from the training text.
- a SentencePiece subword tokenizer (`train_subword_tokenizer`), through
  keras-hub's `SentencePieceTokenizer`.
"""

import json
import os

import numpy as np
import tensorflow as tf

from tfzoo.text.char_tokenizer import CharTokenizer
from tfzoo.text.subword_tokenizer import (
    subword_tokenizer_from_proto,
    train_subword_tokenizer,
)

TOKENIZER_KINDS = ("char", "subword")
_CONFIG_FILE = "tokenizer.json"
_SENTENCEPIECE_FILE = "tokenizer.spm"


def build_tokenizer(kind, text, vocabulary_size=None):
    """Builds a tokenizer of `kind` ("char" or "subword") from `text`."""
    if kind == "char":
        return CharTokenizer.from_text(text)
    if kind == "subword":
        return train_subword_tokenizer(text, vocabulary_size or 2000)
    raise ValueError(
        f"unknown tokenizer {kind!r}; choose one of: {', '.join(TOKENIZER_KINDS)}"
    )


def tokenizer_kind(tokenizer):
    return "char" if isinstance(tokenizer, CharTokenizer) else "subword"


def save_tokenizer(tokenizer, directory):
    """Writes `tokenizer.json` (and `tokenizer.spm` for subwords)."""
    config = {"kind": tokenizer_kind(tokenizer)}
    if config["kind"] == "char":
        config["vocabulary"] = tokenizer.vocabulary
    else:
        config["model_file"] = _SENTENCEPIECE_FILE
        with open(os.path.join(directory, _SENTENCEPIECE_FILE), "wb") as f:
            f.write(tokenizer.proto)
    # Written last and renamed into place: tokenizer.json is whole or absent.
    path = os.path.join(directory, _CONFIG_FILE)
    with open(path + ".tmp", "w") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)
    os.replace(path + ".tmp", path)


def load_tokenizer(directory):
    """Reads the tokenizer that `save_tokenizer` wrote into `directory`."""
    with open(os.path.join(directory, _CONFIG_FILE)) as f:
        config = json.load(f)
    if config["kind"] == "char":
        return CharTokenizer(config["vocabulary"])
    return subword_tokenizer_from_proto(
        os.path.join(directory, config["model_file"])
    )


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
    """Python str -> numpy array of int32 ids."""
    return np.asarray(tokenizer.tokenize(tf.constant(valid_text(text))),
                      np.int32)


def decode(tokenizer, ids):
    """Sequence of ids -> Python str."""
    text = tokenizer.detokenize(tf.constant(np.asarray(ids, np.int32)))
    if isinstance(text, str):  # keras-hub tokenizers return str in eager mode
        return text
    return text.numpy().decode("utf-8", errors="replace")


__all__ = [
    "CharTokenizer",
    "TOKENIZER_KINDS",
    "build_tokenizer",
    "decode",
    "encode",
    "load_tokenizer",
    "save_tokenizer",
    "train_subword_tokenizer",
    "valid_text",
]
