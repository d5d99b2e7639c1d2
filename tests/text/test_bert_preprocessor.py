"""BertPreprocessor: WordPiece and packing like Hugging Face's BERT."""

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.text.bert_preprocessor import BertPreprocessor

from tests.conftest import minilm_folder

CLS, SEP, PAD = 101, 102, 0


@pytest.fixture(scope="module")
def preprocessor():
    return BertPreprocessor.from_checkpoint(minilm_folder(),
                                            sequence_length=12)


def test_single_text_is_cls_text_sep_padded(preprocessor):
    out = preprocessor(tf.constant(["Hello World!"]))
    # Ids of hello, world, ! in the uncased BERT vocabulary.
    np.testing.assert_array_equal(
        out["token_ids"][0], [CLS, 7592, 2088, 999, SEP] + [PAD] * 7)
    np.testing.assert_array_equal(out["padding_mask"][0], [1] * 5 + [0] * 7)
    np.testing.assert_array_equal(out["segment_ids"][0], [0] * 12)


def test_uncased_checkpoint_lowercases_and_strips_accents(preprocessor):
    a = preprocessor(tf.constant(["NAÏVE Café"]))["token_ids"]
    b = preprocessor(tf.constant(["naive cafe"]))["token_ids"]
    np.testing.assert_array_equal(a, b)
    assert 100 not in a.numpy()  # no [UNK]


def test_pairs_get_segment_ids_and_round_robin_truncation(preprocessor):
    out = preprocessor(
        tf.constant(["one two three four five six seven eight nine ten"]),
                       tf.constant(["yes"]))
    ids = out["token_ids"][0].numpy()
    assert list(ids[[0, -1]]) == [CLS, SEP] and list(ids).count(SEP) == 2
    # 12 tokens: [CLS] 8 of the first text [SEP] yes [SEP]; the long text
    # lost its tail, the short one nothing.
    np.testing.assert_array_equal(out["segment_ids"][0], [0] * 10 + [1] * 2)
    assert out["padding_mask"].numpy().sum() == 12


def test_unknown_words_map_to_unk(preprocessor):
    ids = preprocessor(tf.constant(["\u2603\u2603"]))["token_ids"][0]
    assert 100 in ids.numpy()


def test_config_round_trip(preprocessor):
    restored = BertPreprocessor.from_config(preprocessor.get_config())
    text = tf.constant(["Round trip, please."])
    np.testing.assert_array_equal(restored(text)["token_ids"],
                                  preprocessor(text)["token_ids"])


def test_vocabulary_without_special_tokens_is_refused():
    with pytest.raises(ValueError, match=r"lacks \[PAD\]"):
        BertPreprocessor(["[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"])
