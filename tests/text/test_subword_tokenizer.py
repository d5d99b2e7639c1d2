import tensorflow as tf

from tfzoo.text import (
    build_tokenizer,
    decode,
    encode,
    load_tokenizer,
    save_tokenizer,
)


def test_round_trip_keeps_whitespace_and_unseen_characters(small_text, tmp_path):
    tokenizer = build_tokenizer("subword", small_text, vocabulary_size=400)
    assert tokenizer.vocabulary_size() == 400
    ids = encode(tokenizer, small_text)
    assert len(ids) < len(small_text) / 2  # subwords, not characters
    assert decode(tokenizer, ids) == small_text
    unusual = "  Zürich\n\n\tsnow ☃ the  king\n"
    assert decode(tokenizer, encode(tokenizer, unusual)) == unusual

    save_tokenizer(tokenizer, str(tmp_path))
    restored = load_tokenizer(str(tmp_path))
    assert list(encode(restored, small_text)) == list(ids)
    assert decode(restored, encode(restored, unusual)) == unusual


def test_tokenizes_in_graph(small_text):
    tokenizer = build_tokenizer("subword", small_text, vocabulary_size=300)
    strings = tf.constant(["the king", "stars are born"])
    ids = tf.function(tokenizer.tokenize)(strings)
    assert isinstance(ids, tf.RaggedTensor)
    assert tf.function(tokenizer.detokenize)(ids).numpy().tolist() == [
        b"the king", b"stars are born"]
