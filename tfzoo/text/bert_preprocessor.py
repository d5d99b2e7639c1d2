"""BERT's input pipeline in the graph: WordPiece, [CLS]/[SEP], segments."""

import json
import os

import keras
import keras_hub
import tensorflow as tf

from tfzoo.text.word_piece_vocabulary import learn_word_piece

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@keras.saving.register_keras_serializable(package="tfzoo")
class BertPreprocessor(keras.layers.Layer):
    """Turns raw strings into a `BertEncoder`'s inputs, with TensorFlow ops.

    `[CLS] text [SEP]`, or `[CLS] text [SEP] pair [SEP]` with segment ids 0
    then 1, truncated to `sequence_length` tokens (round robin between the
    two texts: the longer one loses tokens first) and padded. WordPiece comes
    from keras-hub's `WordPieceTokenizer` (tensorflow-text ops); with
    `lowercase=True` accents are stripped too, as Hugging Face's
    `BertTokenizer` does for uncased checkpoints.

    Args:
        vocabulary: list of WordPiece tokens, or the path of a `vocab.txt`.
        lowercase: bool.
        sequence_length: int, the packed length, special tokens included.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> preprocessor = BertPreprocessor.from_checkpoint(folder, 64)
    >>> inputs = preprocessor(tf.constant(["A fine film."]))
    >>> sorted(inputs)
    ['padding_mask', 'segment_ids', 'token_ids']
    """

    def __init__(self, vocabulary, lowercase=True, sequence_length=128,
                 **kwargs):
        kwargs.setdefault("trainable", False)
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        if isinstance(vocabulary, str):
            with open(vocabulary, encoding="utf-8") as f:
                vocabulary = [line.rstrip("\n") for line in f]
        missing = [t for t in SPECIAL_TOKENS if t not in vocabulary]
        if missing:
            raise ValueError(f"the vocabulary lacks {', '.join(missing)}")
        self.vocabulary = list(vocabulary)
        self.lowercase = bool(lowercase)
        self.sequence_length = int(sequence_length)
        self.tokenizer = keras_hub.tokenizers.WordPieceTokenizer(
            vocabulary=self.vocabulary,
            lowercase=self.lowercase,
            strip_accents=self.lowercase,
            oov_token="[UNK]",
            special_tokens=list(SPECIAL_TOKENS),
            dtype="int32",
        )
        self.pad_id = self.vocabulary.index("[PAD]")
        self.mask_id = self.vocabulary.index("[MASK]")
        self.special_ids = [self.vocabulary.index(t) for t in SPECIAL_TOKENS]
        self.packer = keras_hub.layers.MultiSegmentPacker(
            sequence_length=self.sequence_length,
            start_value=self.vocabulary.index("[CLS]"),
            end_value=self.vocabulary.index("[SEP]"),
            pad_value=self.pad_id,
            truncate="round_robin",
        )

    @classmethod
    def from_checkpoint(cls, folder, sequence_length=128):
        """Reads `vocab.txt` and the casing (`tokenizer_config.json`'s
        `do_lower_case`, default true) of a Hugging Face checkpoint."""
        lowercase = True
        config_path = os.path.join(folder, "tokenizer_config.json")
        if os.path.isfile(config_path):
            with open(config_path) as f:
                lowercase = json.load(f).get("do_lower_case", True)
        return cls(os.path.join(folder, "vocab.txt"), lowercase,
                   sequence_length)

    @classmethod
    def from_texts(cls, texts, vocabulary_size, sequence_length=128,
                   progress=None):
        """Learns an uncased WordPiece vocabulary of about `vocabulary_size`
        tokens (the special tokens included) from a list of strings, as
        keras-hub's `compute_word_piece_vocabulary` does, reporting its
        steps to `progress` (see `word_piece_vocabulary.learn_word_piece`;
        `ProgressBars()` shows them)."""
        vocabulary = learn_word_piece(list(texts), vocabulary_size,
                                      list(SPECIAL_TOKENS), progress)
        return cls(vocabulary, True, sequence_length)

    def vocabulary_size(self):
        return len(self.vocabulary)

    def call(self, text, text_pair=None):
        """`text` (and `text_pair`): `tf.string` of shape `(batch,)` or `()`.

        Returns a dict of int32 `token_ids`, `segment_ids` and
        `padding_mask`, each `(batch, sequence_length)` (or unbatched).
        """
        segments = [self.tokenizer(text)]
        if text_pair is not None:
            segments.append(self.tokenizer(text_pair))
        token_ids, segment_ids = self.packer(tuple(segments))
        return {
            "token_ids": token_ids,
            "segment_ids": segment_ids,
            "padding_mask": tf.cast(token_ids != self.pad_id, tf.int32),
        }

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary": self.vocabulary,
            "lowercase": self.lowercase,
            "sequence_length": self.sequence_length,
        })
        return config
