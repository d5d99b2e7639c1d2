"""Byte-level pre-tokenization: how GPT-2, SmolLM and Llama 3 cut text into
words before their BPE merges (regexes spelled for RE2, the look-ahead
emulated by two passes), and GPT-2's map between bytes and the printable
characters their vocabularies are written in. Used by
`tfzoo.text.byte_pair_tokenizer`.
"""

# The pre-tokenizers: how text is cut into words before the merges.
# - "gpt2": GPT-2's regex (contractions, letters, numbers, other symbols,
#   whitespace), each optionally led by one space.
# - "smollm": every digit alone, then GPT-2's regex (Hugging Face's
#   `Digits(individual_digits=True)` + `ByteLevel`; llama.cpp's `smollm`).
# - "llama-bpe": Llama 3's regex (numbers in groups of up to three digits,
#   punctuation keeps the line ends after it, case-insensitive
#   contractions); llama.cpp's `llama-bpe`.
PRE_TOKENIZERS = ("gpt2", "smollm", "llama-bpe")

# Character classes, spelled for RE2 so that they match what Oniguruma
# (Hugging Face tokenizers) matches. Its `\s` is Unicode white space, RE2's
# only [\t\n\f\r ]. RE2's Unicode tables (TensorFlow 2.21) are older than
# Oniguruma's (tokenizers 0.23): the letters and numbers that Unicode 16.0
# added are listed here.
_SPACE = r"\t\n\x{B}\x{C}\r\x{85}\p{Z}"
_SPACE_BUT_LINE_ENDS = r"\t\x{B}\x{C}\x{85}\p{Z}"
_LETTER = (r"\p{L}\x{1C89}-\x{1C8A}\x{A7CB}-\x{A7CD}\x{A7DA}-\x{A7DC}"
           r"\x{105C0}-\x{105F3}\x{10D4A}-\x{10D65}\x{10D6F}-\x{10D85}"
           r"\x{10EC2}-\x{10EC4}\x{11380}-\x{11389}\x{1138B}\x{1138E}"
           r"\x{11390}-\x{113B5}\x{113B7}\x{113D1}\x{113D3}"
           r"\x{11BC0}-\x{11BE0}\x{13460}-\x{143FA}\x{16100}-\x{1611D}"
           r"\x{16D40}-\x{16D6C}\x{18CFF}\x{1E5D0}-\x{1E5ED}\x{1E5F0}"
           r"\x{2EBF0}-\x{2EE5D}")
_NUMBER = (r"\p{N}\x{10D40}-\x{10D49}\x{116D0}-\x{116E3}\x{11BF0}-\x{11BF9}"
           r"\x{16130}-\x{16139}\x{16D70}-\x{16D79}\x{1CCF0}-\x{1CCF9}"
           r"\x{1E5F1}-\x{1E5FA}")

# The regexes without their look-ahead alternative `\s+(?!\S)`: where it
# would match, `\s+` matches instead.
_WORDS = {
    "gpt2": (r"'s|'t|'re|'ve|'m|'ll|'d"
             rf"| ?[{_LETTER}]+| ?[{_NUMBER}]+"
             rf"| ?[^{_SPACE}{_LETTER}{_NUMBER}]+|[{_SPACE}]+"),
    "llama-bpe": (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)"
                  rf"|[^\r\n{_LETTER}{_NUMBER}]?[{_LETTER}]+"
                  rf"|[{_NUMBER}]{{1,3}}"
                  rf"| ?[^{_SPACE}{_LETTER}{_NUMBER}]+[\r\n]*"
                  rf"|[{_SPACE}]*[\r\n]+|[{_SPACE}]+"),
}
# The look-ahead: in "a   b", `\s+(?!\S)` takes two spaces and leaves the
# last to start the next word, " b". Without it `\s+` would take all three.
# So the text is first cut into segments, each starting at a white-space
# character that a non-space follows (where a word always starts): that
# character, then non-space characters (for Llama 3 also white space that
# ends in a line end: its `\s*[\r\n]+` and `[^\s...]+[\r\n]*` words end
# at the last line end of a run, so line ends start no segment). The text
# between segments is a segment too: white space, cut where the next
# segment starts. Within a segment, `\s+` ends where `\s+(?!\S)` ends in
# the whole text, and every other alternative matches what it matches
# there: the pre-tokenizer splits each segment with `_WORDS` alone.
_SEGMENTS = {
    "gpt2": rf"[{_SPACE}][^{_SPACE}]+",
    "llama-bpe": (rf"[{_SPACE_BUT_LINE_ENDS}][^{_SPACE}]"
                  rf"(?:[^{_SPACE}]|[{_SPACE}]*[\r\n])*"),
}
# Each pre-tokenizer as the regexes it splits by, in order (each piece of
# one split is split again by the next; matches and the text between them
# are all kept).
SPLITS = {
    "gpt2": (_SEGMENTS["gpt2"], _WORDS["gpt2"]),
    "smollm": (f"[{_NUMBER}]", _SEGMENTS["gpt2"], _WORDS["gpt2"]),
    "llama-bpe": (_SEGMENTS["llama-bpe"], _WORDS["llama-bpe"]),
}



def bytes_to_unicode():
    """GPT-2's map from the 256 byte values to printable characters.

    Byte-level BPE vocabularies write each token as the characters of its
    bytes: printable Latin-1 bytes stand for themselves, the others (space,
    control bytes, ...) for characters from U+0100 on, in byte order; so a
    space is "Ġ" (U+0120) and a newline "Ċ" (U+010A).

    Returns:
        dict, int byte value (0 to 255) -> str of one character.
    """
    printable = [*range(ord("!"), ord("~") + 1),
                 *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    mapping = {byte: chr(byte) for byte in printable}
    others = [byte for byte in range(256) if byte not in mapping]
    mapping.update({byte: chr(256 + i) for i, byte in enumerate(others)})
    return mapping


UNICODE_TO_BYTE = {char: byte for byte, char in bytes_to_unicode().items()}
BYTE_STRINGS = [bytes([byte]) for byte in range(256)]


def token_bytes(token):
    """The bytes a vocabulary token stands for, or None where it is not
    written in GPT-2's byte characters (some special tokens)."""
    try:
        return bytes(UNICODE_TO_BYTE[char] for char in token)
    except KeyError:
        return None


def re2_literal(text):
    """`text` as an RE2 pattern that matches exactly it."""
    return "".join(char if char.isalnum() else f"\\x{{{ord(char):X}}}"
                   for char in text)
