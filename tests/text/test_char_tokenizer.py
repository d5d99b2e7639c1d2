import keras
import numpy as np
import tensorflow as tf

from tfzoo.text import CharTokenizer, decode, encode, load_tokenizer, save_tokenizer


def test_round_trip_of_in_vocabulary_text(small_text):
    tokenizer = CharTokenizer.from_text(small_text)
    ids = encode(tokenizer, small_text)
    assert len(ids) == len(small_text)
    assert ids.min() >= 1 and ids.max() < tokenizer.vocabulary_size()
    assert decode(tokenizer, ids) == small_text


def test_unknown_characters_map_to_oov():
    tokenizer = CharTokenizer.from_text("abc")
    assert list(encode(tokenizer, "aXb☃c")) == [1, 0, 2, 0, 3]
    assert decode(tokenizer, [1, 0, 3]) == "a\ufffdc"
    # Ids outside the vocabulary decode as OOV too.
    assert decode(tokenizer, [1, 99, -4]) == "a\ufffd\ufffd"


def test_invalid_utf8_never_crashes():
    tokenizer = CharTokenizer.from_text("ab")
    ids = tokenizer.tokenize(tf.constant(b"a\xff\xfeb"))
    assert list(ids.numpy()) == [1, 0, 0, 2]


def test_batches_are_ragged_and_run_in_graph():
    tokenizer = CharTokenizer.from_text("hello world")
    dataset = tf.data.Dataset.from_tensor_slices(["hello", "wo"]).batch(2)
    ids = next(iter(dataset.map(tokenizer.tokenize)))
    assert isinstance(ids, tf.RaggedTensor)
    assert ids.row_lengths().numpy().tolist() == [5, 2]
    texts = tf.function(tokenizer.detokenize)(ids)
    assert texts.numpy().tolist() == [b"hello", b"wo"]


def test_saved_with_the_run_and_as_keras_config(tmp_path):
    tokenizer = CharTokenizer.from_text("to be or not\n")
    save_tokenizer(tokenizer, str(tmp_path))
    restored = load_tokenizer(str(tmp_path))
    assert restored.vocabulary == tokenizer.vocabulary
    clone = keras.layers.deserialize(keras.layers.serialize(tokenizer))
    np.testing.assert_array_equal(encode(clone, "not be"),
                                  encode(tokenizer, "not be"))
