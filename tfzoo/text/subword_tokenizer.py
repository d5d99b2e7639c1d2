"""A SentencePiece subword tokenizer trained on the training text."""

import io
import sys

import keras_hub
import sentencepiece

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
    """A keras-hub SentencePiece tokenizer from model bytes or a file path."""
    return keras_hub.tokenizers.SentencePieceTokenizer(proto=proto)
