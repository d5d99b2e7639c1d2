"""A SentencePiece subword tokenizer trained on the training text."""

import functools
import io
import sys

import keras_hub
import sentencepiece
from sentencepiece import sentencepiece_model_pb2

# The characters that do not survive a round trip: SentencePiece writes
# spaces as U+2581 ("▁") inside its pieces, so an U+2581 of the text comes
# back as a space. Found by tests/text/test_round_trip_properties.py.
EXCLUDED_CHARACTERS = ("\u2581",)

# Long enough that SentencePiece sees whole paragraphs, well under its limit.
_CHUNK_CHARACTERS = 4096


def train_subword_tokenizer(text, vocabulary_size=2000, model_type="bpe",
                            pad_id=-1):
    """Trains a SentencePiece model on `text`; returns a keras-hub tokenizer.

    The model keeps text exactly as it is: no Unicode normalization, spaces
    and newlines kept (newline is a piece of its own), and byte fallback so
    that characters never seen in training still round-trip through their
    UTF-8 bytes. So `detokenize(tokenize(s)) == s` for any valid UTF-8 `s`
    without U+2581 ("▁", `EXCLUDED_CHARACTERS`): SentencePiece's own sign
    for a space, which comes back as a space. A training text that holds
    it gets a one-line note on stderr.

    Args:
        text: str, the training text.
        vocabulary_size: int, number of pieces, the 256 byte pieces and the
            special tokens included.
        model_type: `"bpe"` (default) or `"unigram"`.
        pad_id: int, the id of a `<pad>` piece, or -1 for none (language
            models need none; translation pads batches with it). The other
            special pieces are `<unk>` 0, `<s>` 1 and `</s>` 2.

    Returns:
        A `keras_hub.tokenizers.SentencePieceTokenizer`; it tokenizes and
        detokenizes `tf.string` tensors in-graph (tensorflow-text ops).

    Raises:
        ValueError: a vocabulary size SentencePiece cannot build for this
            text (smaller than its characters, the special tokens and the
            256 bytes need), with SentencePiece's reason.

    Example:
    >>> text = "to be or not to be, that is the question\\n" * 50
    >>> tokenizer = train_subword_tokenizer(text, vocabulary_size=300)
    >>> tokenizer.detokenize(tokenizer.tokenize("to be!"))
    'to be!'
    """
    excluded = [c for c in EXCLUDED_CHARACTERS if c in text]
    if excluded:
        print("note: the training text holds "
              + ", ".join(f"U+{ord(c):04X}" for c in excluded)
              + ", which SentencePiece reads as a space: it will come back "
              "as a space", file=sys.stderr)
    chunks = [
        text[i : i + _CHUNK_CHARACTERS]
        for i in range(0, len(text), _CHUNK_CHARACTERS)
    ]
    model = io.BytesIO()
    try:
        _train_sentencepiece(chunks, model, vocabulary_size, model_type,
                             pad_id)
    except RuntimeError as error:  # SentencePiece's checks of the settings
        reason = str(error).split("] ")[-1].split(". Increase")[0]
        raise ValueError(f"cannot build a subword vocabulary of "
                         f"{vocabulary_size} pieces for this text: "
                         f"{reason} (see --vocab-size)") from None
    return subword_tokenizer_from_proto(model.getvalue())


def _train_sentencepiece(chunks, model, vocabulary_size, model_type, pad_id):
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(chunks),
        model_writer=model,
        vocab_size=vocabulary_size,
        model_type=model_type,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        allow_whitespace_only_pieces=True,
        split_digits=True,
        user_defined_symbols=["\n"],
        byte_fallback=True,
        character_coverage=1.0,
        max_sentence_length=4 * _CHUNK_CHARACTERS,
        hard_vocab_limit=False,
        num_threads=2,
        pad_id=pad_id,
        minloglevel=2,
    )


def subword_tokenizer_from_proto(proto):
    """A keras-hub SentencePiece tokenizer from model bytes or a file path.

    The model is given `with_explicit_identity_normalization` first, so that
    building it writes nothing on stderr.
    """
    if isinstance(proto, str):
        with open(proto, "rb") as f:
            proto = f.read()
    return keras_hub.tokenizers.SentencePieceTokenizer(
        proto=with_explicit_identity_normalization(proto))


@functools.cache
def _identity_charsmap():
    """A precompiled normalization map that changes nothing.

    SentencePiece's builder refuses a rule that maps a character to itself,
    so this builds the map of the one rule "A" -> "B" and then makes its
    replacement "A": the map is `<trie size><trie of the keys><replacement
    strings, each ending in NUL>`, and the replacements here are `B\\0`.
    """
    sentencepiece.set_min_log_level(2)  # the builder logs at INFO
    try:
        normalizer = sentencepiece.SentencePieceNormalizer(
            norm_map=[("A", "B")])
    finally:
        sentencepiece.set_min_log_level(0)
    spec = sentencepiece_model_pb2.NormalizerSpec()
    spec.ParseFromString(normalizer.serialized_normalizer_spec())
    charsmap = spec.precompiled_charsmap
    if not charsmap.endswith(b"B\0"):
        raise RuntimeError("SentencePiece's normalization map has a layout "
                           "this tfzoo does not know")
    return charsmap[:-2] + b"A\0"


def with_explicit_identity_normalization(proto):
    """The model bytes `proto` with a normalization map that changes
    nothing, if it has none.

    A SentencePiece model trained with `normalization_rule_name="identity"`
    carries an empty map, and the SentencePiece inside tensorflow-text
    writes `normalizer.cc(51) LOG(INFO) precompiled_charsmap is empty` to
    file descriptor 2 each time such a model is loaded (a `translate`, an
    export, TF Serving's start), below Python's reach. The map of the one
    rule "A" -> "A" normalizes exactly as no map does: SentencePiece's
    `Normalizer::NormalizePrefix` copies a character that no rule matches,
    and writes U+FFFD for a malformed byte, either way. And it is not
    empty. tests/text/test_subword_tokenizer.py checks that the ids are
    the same.

    Args:
        proto: bytes, a serialized SentencePiece `ModelProto`.

    Returns:
        bytes: `proto` itself if it has a normalization map already, or its
        copy with the map above.
    """
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(proto)
    if model.normalizer_spec.precompiled_charsmap:
        return proto
    model.normalizer_spec.precompiled_charsmap = _identity_charsmap()
    return model.SerializeToString()
