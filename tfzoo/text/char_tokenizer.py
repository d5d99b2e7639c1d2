"""A character-level tokenizer that runs inside the TensorFlow graph."""

import keras
import tensorflow as tf

OOV_ID = 0
REPLACEMENT_CHARACTER = "\ufffd"


@keras.saving.register_keras_serializable(package="tfzoo")
class CharTokenizer(keras.layers.Layer):
    """Maps each Unicode character of a `tf.string` to an integer id.

    Id 0 stands for every character outside the vocabulary (it decodes to
    U+FFFD); the vocabulary's characters take ids 1, 2, .... Bytes that are
    not valid UTF-8 decode to U+FFFD first, so no input ever fails.

    Args:
        vocabulary: list of single-character strings, e.g. from
            `CharTokenizer.from_text(text)`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> tokenizer = CharTokenizer.from_text("hello world")
    >>> ids = tokenizer.tokenize("hold")
    >>> tokenizer.detokenize(ids).numpy().decode()
    'hold'
    >>> int(tokenizer.tokenize("?")[0])  # not in the vocabulary
    0
    """

    def __init__(self, vocabulary, **kwargs):
        kwargs.setdefault("trainable", False)
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        vocabulary = list(vocabulary)
        if any(len(c) != 1 for c in vocabulary):
            raise ValueError("Every vocabulary entry must be one character.")
        if len(set(vocabulary)) != len(vocabulary):
            raise ValueError("The vocabulary has duplicate characters.")
        self.vocabulary = vocabulary
        codepoints = [ord(REPLACEMENT_CHARACTER)] + [ord(c) for c in vocabulary]
        self._id_to_codepoint = tf.constant(codepoints, tf.int32)
        self._codepoint_to_id = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(codepoints[1:], tf.int32),
                tf.range(1, len(codepoints), dtype=tf.int32),
            ),
            default_value=OOV_ID,
        )

    @classmethod
    def from_text(cls, text, **kwargs):
        """Builds the vocabulary from the characters of `text`, sorted."""
        return cls(sorted(set(text)), **kwargs)

    def vocabulary_size(self):
        """Number of ids, the OOV id included."""
        return len(self.vocabulary) + 1

    def id_to_token(self, token_id):
        return REPLACEMENT_CHARACTER if token_id == OOV_ID else (
            self.vocabulary[token_id - 1]
        )

    def tokenize(self, inputs):
        """`tf.string` of any rank -> int32 ids, ragged in the last axis.

        A scalar string gives a dense 1-D tensor.
        """
        inputs = tf.convert_to_tensor(inputs, tf.string)
        codepoints = tf.strings.unicode_decode(
            inputs, "UTF-8", errors="replace"
        )
        return tf.ragged.map_flat_values(
            self._codepoint_to_id.lookup, codepoints
        )

    def detokenize(self, inputs):
        """int ids (dense or ragged, last axis = characters) -> `tf.string`.

        Ids outside the vocabulary decode as U+FFFD.
        """

        def to_codepoints(ids):
            ids = tf.cast(ids, tf.int32)
            valid = (ids >= 0) & (ids < self.vocabulary_size())
            return tf.gather(self._id_to_codepoint, tf.where(valid, ids, OOV_ID))

        codepoints = tf.ragged.map_flat_values(to_codepoints, inputs)
        return tf.strings.unicode_encode(codepoints, "UTF-8")

    def call(self, inputs):
        return self.tokenize(inputs)

    def get_config(self):
        config = super().get_config()
        config.update({"vocabulary": self.vocabulary})
        return config
