"""How a run folder stores its text preprocessing.

- A language model's tokenizer: `tokenizer.json` (its kind, and a character
  tokenizer's vocabulary), plus `tokenizer.spm` (the SentencePiece model)
  for subwords.
- A classifier's or MLM encoder's WordPiece preprocessor: `vocab.txt` and
  `preprocessor.json` (lower-casing and sequence length).
"""

import json
import os

from tfzoo.text.bert_preprocessor import BertPreprocessor
from tfzoo.text.char_tokenizer import CharTokenizer
from tfzoo.text.kinds import tokenizer_kind
from tfzoo.text.subword_tokenizer import subword_tokenizer_from_proto

TOKENIZER_FILE = "tokenizer.json"
SENTENCEPIECE_FILE = "tokenizer.spm"
VOCABULARY_FILE = "vocab.txt"
PREPROCESSOR_FILE = "preprocessor.json"


def save_tokenizer(tokenizer, directory):
    """Writes `tokenizer.json` (and `tokenizer.spm` for subwords)."""
    config = {"kind": tokenizer_kind(tokenizer)}
    if config["kind"] == "char":
        config["vocabulary"] = tokenizer.vocabulary
    else:
        config["model_file"] = SENTENCEPIECE_FILE
        with open(os.path.join(directory, SENTENCEPIECE_FILE), "wb") as f:
            f.write(tokenizer.proto)
    # Written last and renamed into place: tokenizer.json is whole or absent.
    path = os.path.join(directory, TOKENIZER_FILE)
    with open(path + ".tmp", "w") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)
    os.replace(path + ".tmp", path)


def load_tokenizer(directory):
    """Reads the tokenizer that `save_tokenizer` wrote into `directory`."""
    with open(os.path.join(directory, TOKENIZER_FILE)) as f:
        config = json.load(f)
    if config["kind"] == "char":
        return CharTokenizer(config["vocabulary"])
    return subword_tokenizer_from_proto(
        os.path.join(directory, config["model_file"])
    )


def save_preprocessor(preprocessor, directory):
    """Writes `vocab.txt` and `preprocessor.json` into `directory`."""
    with open(os.path.join(directory, VOCABULARY_FILE), "w",
              encoding="utf-8") as f:
        f.write("\n".join(preprocessor.vocabulary) + "\n")
    with open(os.path.join(directory, PREPROCESSOR_FILE), "w") as f:
        json.dump({"lowercase": preprocessor.lowercase,
                   "sequence_length": preprocessor.sequence_length}, f)


def load_preprocessor(directory, sequence_length=None):
    """The preprocessor `save_preprocessor` wrote (optionally with another
    `sequence_length`, in tokens)."""
    with open(os.path.join(directory, PREPROCESSOR_FILE)) as f:
        options = json.load(f)
    return BertPreprocessor(os.path.join(directory, VOCABULARY_FILE),
                            options["lowercase"],
                            sequence_length or options["sequence_length"])
