"""In-graph tokenizers and how a run folder stores them.

Every tokenizer tokenizes `tf.string` tensors with TensorFlow ops, so it
works in `tf.data` pipelines and inside an exported SavedModel:

- `CharTokenizer` (`char_tokenizer`): one id per character, vocabulary from
  the training text.
- a SentencePiece subword tokenizer (`subword_tokenizer`), through
  keras-hub's `SentencePieceTokenizer`.
- `BertPreprocessor` (`bert_preprocessor`): WordPiece, `[CLS]`/`[SEP]`
  packing and segment ids for BERT.

`kinds` builds a tokenizer of a named kind, `encoding` turns Python strings
into ids and back, `saving` writes and reads them in a run folder.
"""

from tfzoo.choices import TOKENIZERS
from tfzoo.text.bert_preprocessor import BertPreprocessor
from tfzoo.text.char_tokenizer import CharTokenizer
from tfzoo.text.encoding import decode, encode, valid_text
from tfzoo.text.kinds import build_tokenizer, tokenizer_kind
from tfzoo.text.saving import (load_preprocessor, load_tokenizer,
                               save_preprocessor, save_tokenizer)
from tfzoo.text.subword_tokenizer import train_subword_tokenizer

__all__ = [
    "BertPreprocessor",
    "CharTokenizer",
    "TOKENIZERS",
    "build_tokenizer",
    "decode",
    "encode",
    "load_preprocessor",
    "load_tokenizer",
    "save_preprocessor",
    "save_tokenizer",
    "tokenizer_kind",
    "train_subword_tokenizer",
    "valid_text",
]
