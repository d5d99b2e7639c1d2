import tensorflow as tf
from sentencepiece import sentencepiece_model_pb2

from tfzoo.text import (
    build_tokenizer,
    decode,
    encode,
    load_tokenizer,
    save_tokenizer,
)
from tfzoo.text.subword_tokenizer import subword_tokenizer_from_proto


def without_normalization_map(proto):
    """A SentencePiece model's bytes as trained with identity
    normalization: with an empty normalization map."""
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(proto)
    model.normalizer_spec.precompiled_charsmap = b""
    return model.SerializeToString()


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


def test_loading_a_model_writes_no_log_line(small_text, capfd):
    # tensorflow-text's SentencePiece writes "normalizer.cc(51) LOG(INFO)
    # precompiled_charsmap is empty" on file descriptor 2 for a model
    # trained with identity normalization: shown first with the model as
    # trained, then gone with the model as tfzoo loads it.
    import keras_hub

    tokenizer = build_tokenizer("subword", small_text, vocabulary_size=300)
    capfd.readouterr()
    as_trained = keras_hub.tokenizers.SentencePieceTokenizer(
        proto=without_normalization_map(tokenizer.proto))
    as_trained.tokenize(tf.constant(["the king"]))
    assert "precompiled_charsmap is empty" in capfd.readouterr().err

    restored = subword_tokenizer_from_proto(tokenizer.proto)
    ids = restored.tokenize(tf.constant(["the king"]))
    assert "precompiled_charsmap" not in capfd.readouterr().err
    assert ids == as_trained.tokenize(tf.constant(["the king"]))
