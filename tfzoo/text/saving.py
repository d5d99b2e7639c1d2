"""How a run folder stores its text preprocessing.

- A language model's tokenizer: `tokenizer.json` (its kind, and a character
  tokenizer's vocabulary), plus `tokenizer.spm` (the SentencePiece model)
  for subwords; for a pretrained model's byte-level BPE, `vocabulary.json`
  and `merges.json` (JSON lists, one entry a line) with the pre-tokenizer
  and the special tokens in `tokenizer.json`.
- A classifier's or MLM encoder's WordPiece preprocessor: `vocab.txt` and
  `preprocessor.json` (lower-casing and sequence length).

Each file is written beside its name and renamed into place, so that a
kill never leaves half of one.
"""

import json
import os

from tfzoo.text.bert_preprocessor import BertPreprocessor
from tfzoo.text.byte_pair_tokenizer import BytePairTokenizer
from tfzoo.text.char_tokenizer import CharTokenizer
from tfzoo.text.kinds import tokenizer_kind
from tfzoo.text.subword_tokenizer import subword_tokenizer_from_proto

TOKENIZER_FILE = "tokenizer.json"
SENTENCEPIECE_FILE = "tokenizer.spm"
BYTE_PAIR_VOCABULARY_FILE = "vocabulary.json"
BYTE_PAIR_MERGES_FILE = "merges.json"
VOCABULARY_FILE = "vocab.txt"
PREPROCESSOR_FILE = "preprocessor.json"


def save_tokenizer(tokenizer, directory):
    """Writes `tokenizer.json` (and `tokenizer.spm` for subwords,
    `vocabulary.json` and `merges.json` for byte-level BPE)."""
    config = {"kind": tokenizer_kind(tokenizer)}
    if config["kind"] == "char":
        config["vocabulary"] = tokenizer.vocabulary
    elif config["kind"] == "byte_pair":
        config.update(vocabulary_file=BYTE_PAIR_VOCABULARY_FILE,
                      merges_file=BYTE_PAIR_MERGES_FILE,
                      pre_tokenizer=tokenizer.pre_tokenizer,
                      special_tokens=tokenizer.special_tokens,
                      ignore_merges=tokenizer.ignore_merges)
        for name, entries in (
                (BYTE_PAIR_VOCABULARY_FILE, tokenizer.vocabulary),
                (BYTE_PAIR_MERGES_FILE, tokenizer.merges)):
            _write_atomically(os.path.join(directory, name), json.dumps(
                entries, ensure_ascii=False, indent=0))
    else:
        config["model_file"] = SENTENCEPIECE_FILE
        _write_atomically(os.path.join(directory, SENTENCEPIECE_FILE),
                          tokenizer.proto)
    # Written last: a run with tokenizer.json has the whole tokenizer.
    _write_atomically(os.path.join(directory, TOKENIZER_FILE),
                      json.dumps(config, ensure_ascii=False, indent=1))


def load_tokenizer(directory):
    """Reads the tokenizer that `save_tokenizer` wrote into `directory`."""
    with open(os.path.join(directory, TOKENIZER_FILE), encoding="utf-8") as f:
        config = json.load(f)
    if config["kind"] == "char":
        return CharTokenizer(config["vocabulary"])
    if config["kind"] == "byte_pair":
        lists = []
        for name in (config["vocabulary_file"], config["merges_file"]):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                lists.append(json.load(f))
        return BytePairTokenizer(*lists, config["pre_tokenizer"],
                                 config["special_tokens"],
                                 config["ignore_merges"])
    return subword_tokenizer_from_proto(
        os.path.join(directory, config["model_file"])
    )


def save_preprocessor(preprocessor, directory):
    """Writes `vocab.txt` and `preprocessor.json` into `directory`."""
    _write_atomically(os.path.join(directory, VOCABULARY_FILE),
                      "\n".join(preprocessor.vocabulary) + "\n")
    _write_atomically(os.path.join(directory, PREPROCESSOR_FILE), json.dumps(
        {"lowercase": preprocessor.lowercase,
         "sequence_length": preprocessor.sequence_length}))


def load_preprocessor(directory, sequence_length=None):
    """The preprocessor `save_preprocessor` wrote (optionally with another
    `sequence_length`, in tokens)."""
    with open(os.path.join(directory, PREPROCESSOR_FILE)) as f:
        options = json.load(f)
    return BertPreprocessor(os.path.join(directory, VOCABULARY_FILE),
                            options["lowercase"],
                            sequence_length or options["sequence_length"])


def _write_atomically(path, content):
    """Writes `content` (str, as UTF-8, or bytes) to `path`, whole or not
    at all."""
    if isinstance(content, str):
        content = content.encode("utf-8")
    with open(path + ".tmp", "wb") as f:
        f.write(content)
    os.replace(path + ".tmp", path)
