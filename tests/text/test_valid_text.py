"""`valid_text`: what is not UTF-8 becomes U+FFFD before TensorFlow sees it."""

from tfzoo.text import CharTokenizer, encode, valid_text


def test_command_line_bytes_and_lone_surrogates_become_replacements():
    assert valid_text("The \udcff king") == "The \ufffd king"  # byte 0xFF
    assert "\ufffd" in valid_text("a\ud800b") and valid_text("a\ud800b")[0] == "a"
    assert valid_text("naïve ✓") == "naïve ✓"


def test_encode_takes_such_text():
    tokenizer = CharTokenizer.from_text("The king")
    ids = encode(tokenizer, "The \udcff king")
    assert len(ids) == len("The \ufffd king") and ids[4] == 0  # OOV id
    assert ids.dtype == "int32"  # as documented, whatever numpy's default
