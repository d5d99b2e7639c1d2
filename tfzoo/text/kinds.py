"""The kinds of language-model tokenizer (`tfzoo.choices.TOKENIZERS`)."""

from tfzoo.choices import DEFAULT_NEW_TOKENS, TOKENIZERS, check_choice
from tfzoo.text.byte_pair_tokenizer import BytePairTokenizer
from tfzoo.text.char_tokenizer import CharTokenizer
from tfzoo.text.subword_tokenizer import train_subword_tokenizer

DEFAULT_VOCABULARY_SIZE = 2000  # subword pieces, unless a preset says


def build_tokenizer(kind, text, vocabulary_size=None):
    """Builds a tokenizer of `kind` from the training `text`.

    Args:
        kind: `"char"` (one id per character of `text`) or `"subword"`
            (SentencePiece BPE trained on `text`).
        text: str, the training text.
        vocabulary_size: int or None, subword pieces (default 2,000).

    Raises:
        ValueError: an unknown `kind`.
    """
    check_choice("tokenizer", kind, TOKENIZERS)
    if kind == "char":
        return CharTokenizer.from_text(text)
    return train_subword_tokenizer(text,
                                   vocabulary_size or DEFAULT_VOCABULARY_SIZE)


def tokenizer_kind(tokenizer):
    """`"char"` or `"subword"`: the kind `tokenizer` was built as; or
    `"byte_pair"` for a pretrained model's `BytePairTokenizer` (imported,
    never trained here, so not one of `TOKENIZERS`)."""
    if isinstance(tokenizer, CharTokenizer):
        return "char"
    if isinstance(tokenizer, BytePairTokenizer):
        return "byte_pair"
    return "subword"


def default_new_tokens(tokenizer):
    """How many tokens `tfzoo generate` writes by default: 200 for a
    character tokenizer, 100 for subwords."""
    return DEFAULT_NEW_TOKENS[
        "char" if tokenizer_kind(tokenizer) == "char" else "subword"]
