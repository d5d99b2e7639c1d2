"""The tokenizers' round-trip promises, checked on generated text
(Hypothesis): arbitrary Unicode, whitespace runs, control and format
characters, and the characters SentencePiece uses internally."""

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_text
from tests.text.test_subword_tokenizer import without_normalization_map
from tfzoo.text import CharTokenizer, build_tokenizer, decode, encode
from tfzoo.text.subword_tokenizer import EXCLUDED_CHARACTERS

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# Text that goes for the edges: spaces and line ends of every kind,
# control and format characters, SentencePiece's own meta symbol and
# byte-piece look-alikes, beside arbitrary Unicode.
EDGES = st.sampled_from([
    " ", "  ", "\t", "\n", "\r", "\r\n", "\x00", "\x0b", "\x0c", "\x1f",
    "\x7f", "\x85", "\xa0", "\u200b", "\u200d", "\u2028", "\u2029",
    "\ufeff", "\u3000", "\u2581", "<0x41>", "<s>", "</s>", "<unk>",
    "\U0001f600", "e\u0301", "\ufffd",
])
TEXT = st.lists(st.one_of(st.text(max_size=8), EDGES),
                 max_size=12).map("".join)


@functools.lru_cache(maxsize=None)
def subword_tokenizer():
    return build_tokenizer("subword", make_text(), vocabulary_size=300)


@SETTINGS
@given(TEXT)
def test_subword_round_trip_of_any_text_without_excluded_characters(text):
    text = "".join(c for c in text if c not in EXCLUDED_CHARACTERS)
    tokenizer = subword_tokenizer()
    assert decode(tokenizer, encode(tokenizer, text)) == text


def test_a_training_text_with_excluded_characters_gets_a_note(capsys):
    build_tokenizer("subword", make_text() + "\u2581", vocabulary_size=300)
    assert "U+2581, which SentencePiece reads as a space" in (
        capsys.readouterr().err)


def test_the_excluded_characters_really_change():
    # The exclusion is exact: each of these does not come back.
    tokenizer = subword_tokenizer()
    for character in EXCLUDED_CHARACTERS:
        text = f"a{character}b"
        assert decode(tokenizer, encode(tokenizer, text)) != text, (
            repr(character))


@SETTINGS
@given(TEXT, TEXT)
def test_char_round_trip_inside_and_outside_the_vocabulary(seen, unseen):
    tokenizer = CharTokenizer.from_text(seen or "a")
    vocabulary = set(tokenizer.vocabulary)
    assert decode(tokenizer, encode(tokenizer, seen)) == seen
    expected = "".join(c if c in vocabulary else "\ufffd" for c in unseen)
    assert decode(tokenizer, encode(tokenizer, unseen)) == expected


@functools.lru_cache(maxsize=None)
def sentencepiece_processors():
    """The subword model as trained (an empty normalization map) and as
    tfzoo loads it (`with_explicit_identity_normalization`)."""
    import sentencepiece

    loaded = subword_tokenizer().proto
    return (sentencepiece.SentencePieceProcessor(
                model_proto=without_normalization_map(loaded)),
            sentencepiece.SentencePieceProcessor(model_proto=loaded))


@SETTINGS
@given(st.one_of(TEXT.map(str.encode), st.binary(max_size=40)))
def test_the_explicit_identity_map_gives_the_same_ids(text):
    # Any bytes, malformed UTF-8 and "A" (the map's one rule) included.
    as_trained, as_loaded = sentencepiece_processors()
    assert as_loaded.encode(text + b"A") == as_trained.encode(text + b"A")
