"""`learn_word_piece`: keras-hub's WordPiece vocabulary, with progress."""

import keras_hub
import tensorflow as tf

from tfzoo.text.bert_preprocessor import SPECIAL_TOKENS
from tfzoo.text.word_piece_vocabulary import (COUNTING, LEARNING,
                                              learn_word_piece)

from tests.conftest import make_text


def texts():
    lines = make_text(num_words=6000).splitlines()
    return lines + ["Ünïcode accents, and CJK 漢字 too.", ""]


def test_the_vocabulary_is_keras_hubs_and_progress_is_reported():
    calls = []
    vocabulary = learn_word_piece(
        texts(), 120, list(SPECIAL_TOKENS),
        progress=lambda *call: calls.append(call))
    expected = keras_hub.tokenizers.compute_word_piece_vocabulary(
        tf.data.Dataset.from_tensor_slices(texts()).batch(1000), 120,
        lowercase=True, strip_accents=True,
        reserved_tokens=list(SPECIAL_TOKENS))
    assert vocabulary == expected
    counting = [(done, total) for stage, done, total in calls
                if stage == COUNTING]
    learning = [(done, total) for stage, done, total in calls
                if stage == LEARNING]
    # Texts counted, rising to all of them; then the thresholds tried.
    assert counting[0] == (0, len(texts())) and counting[-1] == (
        len(texts()), len(texts()))
    assert [d for d, _ in counting] == sorted(d for d, _ in counting)
    assert len(learning) >= 3 and learning[-1][0] == learning[-1][1]
    assert all(done <= total for done, total in learning)
    assert calls.index((LEARNING, 0, learning[0][1])) > calls.index(
        (COUNTING, len(texts()), len(texts())))
