"""`encode`: long texts are tokenized in pieces, with the same ids."""

import numpy as np
import pytest

from tfzoo.text import CharTokenizer, encoding, train_subword_tokenizer

from tests.conftest import make_text

TEXT = (make_text(4000) + "\n\n  Ünïcode  \nand spaces \n\t\ttabs\n" * 40
        + "no newline at the end")


@pytest.fixture(scope="module")
def tokenizers():
    return [CharTokenizer.from_text(TEXT),
            train_subword_tokenizer(TEXT, vocabulary_size=400)]


@pytest.mark.parametrize("chunk", [50, 997, 5000])
def test_pieces_give_the_same_ids_and_report_progress(tokenizers, chunk,
                                                      monkeypatch):
    for tokenizer in tokenizers:
        whole = encoding.encode(tokenizer, TEXT)
        monkeypatch.setattr(encoding, "CHUNK_CHARACTERS", chunk)
        calls = []
        pieces = encoding.encode(tokenizer, TEXT,
                                 lambda *call: calls.append(call))
        monkeypatch.undo()
        np.testing.assert_array_equal(pieces, whole)
        done = [d for stage, d, total in calls]
        assert {stage for stage, _, _ in calls} == {"tokenizing"}
        assert done[0] == 0 and done[-1] == len(TEXT)
        assert done == sorted(done) and len(done) > 2
