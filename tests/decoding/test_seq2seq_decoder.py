"""Greedy decoding, sampling and beam search of the translation models."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from tfzoo.decoding.seq2seq_decoder import Seq2SeqDecoder
from tfzoo.models import LSTMSeq2Seq, TransformerSeq2Seq

BOS, EOS, PAD = 1, 2, 3
VOCABULARY = 30


def models():
    keras.utils.set_random_seed(3)
    return {
        "transformer": TransformerSeq2Seq(
            vocabulary_size=VOCABULARY, max_sequence_length=12,
            num_encoder_layers=2, num_decoder_layers=2, num_heads=2,
            hidden_dim=16),
        "lstm": LSTMSeq2Seq(vocabulary_size=VOCABULARY,
                            max_sequence_length=12, embedding_dim=8,
                            hidden_dim=16),
    }


MODELS = models()


def source():
    ids = np.array([[5, 6, 7, 8, EOS], [9, 10, EOS, PAD, PAD]], "int32")
    return ids, (ids != PAD).astype("int32")


def decode(model, use_cache, beam_width=1, **options):
    decoder = Seq2SeqDecoder(model, BOS, EOS, PAD, use_cache=use_cache)
    ids, mask = source()
    if beam_width == 1:
        return ops.convert_to_numpy(decoder.sample(ids, mask, 12, **options))
    return ops.convert_to_numpy(decoder.beam_search(ids, mask, 12, beam_width,
                                                    **options))


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("beam_width", [1, 3])
def test_cached_decoding_equals_full_decoding(name, beam_width):
    model = MODELS[name]
    np.testing.assert_array_equal(decode(model, True, beam_width),
                                  decode(model, False, beam_width))


@pytest.mark.parametrize("name", MODELS)
def test_beam_width_one_is_greedy(name):
    model = MODELS[name]
    decoder = Seq2SeqDecoder(model, BOS, EOS, PAD)
    ids, mask = source()
    greedy = ops.convert_to_numpy(decoder.sample(ids, mask, 12))
    np.testing.assert_array_equal(
        ops.convert_to_numpy(decoder.beam_search(ids, mask, 12, 1)), greedy)
    # Greedy: each token is the most likely after the ones before it.
    decoder_inputs = np.concatenate(
        [np.full((2, 1), BOS, "int32"), greedy[:, :-1]], axis=1)
    logits = ops.convert_to_numpy(model({
        "encoder_token_ids": ids, "encoder_padding_mask": mask,
        "decoder_token_ids": decoder_inputs}))
    for row in range(2):
        ends = list(greedy[row]).index(EOS) if EOS in greedy[row] else 12
        np.testing.assert_array_equal(logits[row, :ends + 1].argmax(-1)
                                      [:min(ends + 1, 12)],
                                      greedy[row, :min(ends + 1, 12)])


@pytest.mark.parametrize("name", MODELS)
def test_a_batch_decodes_as_each_sentence_alone(name):
    model = MODELS[name]
    decoder = Seq2SeqDecoder(model, BOS, EOS, PAD)
    ids, mask = source()
    together = ops.convert_to_numpy(decoder.beam_search(ids, mask, 12, 2))
    alone = ops.convert_to_numpy(decoder.beam_search(ids[1:, :3],
                                                     mask[1:, :3], 12, 2))
    np.testing.assert_array_equal(together[1:], alone)


def test_sampling_depends_on_the_seed_only():
    model = MODELS["transformer"]
    first = decode(model, True, temperature=2.0, seed=(4, 0))
    assert np.array_equal(first, decode(model, True, temperature=2.0,
                                        seed=(4, 0)))
    assert not np.array_equal(first, decode(model, True, temperature=2.0,
                                            seed=(5, 0)))


class TableModel:
    """A hand-built translation model: the next token's probabilities
    depend on the previous token only (a table), whatever the source."""

    max_sequence_length = 6

    def __init__(self, table):
        self.log_table = ops.log(ops.convert_to_tensor(table, "float32"))

    def encode_source(self, token_ids, padding_mask):
        batch = ops.shape(token_ids)[0]
        return (token_ids, padding_mask), ops.zeros((batch, 1))

    def call_with_cache(self, token_ids, cache, index, state):
        return ops.take(self.log_table, token_ids, axis=0), cache


def probabilities(rows):
    table = np.full((6, 6), 1e-6, "float32")
    for row, values in rows.items():
        for column, p in values.items():
            table[row, column] = p
    return table / table.sum(1, keepdims=True)


A, B = 4, 5
# After [BOS]: A 0.6, B 0.4. After A: A, B and [EOS] a third each. After
# B: [EOS] 0.9. Greedy takes A, then can do no better than 0.6 / 3 = 0.2;
# "B [EOS]" has 0.36.
TABLE = probabilities({
    BOS: {A: 0.6, B: 0.4},
    A: {A: 1 / 3, B: 1 / 3, EOS: 1 / 3},
    B: {EOS: 0.9, A: 0.1},
    EOS: {PAD: 1.0}, PAD: {PAD: 1.0}, 0: {PAD: 1.0},
})


def test_beam_search_finds_what_greedy_misses():
    decoder = Seq2SeqDecoder(TableModel(TABLE), BOS, EOS, PAD,
                             jit_compile=False)
    ids, mask = np.array([[7, EOS]], "int32"), np.ones((1, 2), "int32")
    greedy = ops.convert_to_numpy(decoder.sample(ids, mask, 6))[0]
    assert greedy[0] == A
    beam = ops.convert_to_numpy(decoder.beam_search(
        ids, mask, 6, beam_width=2, length_penalty=0.0))[0]
    assert list(beam[:2]) == [B, EOS] and set(beam[2:]) == {PAD}


def test_every_sentence_stops_at_its_end_token():
    decoder = Seq2SeqDecoder(TableModel(TABLE), BOS, EOS, PAD,
                             jit_compile=False)
    ids, mask = np.array([[7, EOS]], "int32"), np.ones((1, 2), "int32")
    tokens = ops.convert_to_numpy(decoder.beam_search(ids, mask, 6, 2, 0.0))
    after_end = tokens[0, list(tokens[0]).index(EOS) + 1:]
    assert set(after_end) == {PAD}


def test_length_penalty_favours_longer_translations():
    # "B [EOS]" (p 0.5) against "A A ... [EOS]" (0.5 ** length): with a
    # large alpha the longest (length 6: -4.16 / 20.7) beats "B [EOS]"
    # (-0.69 / 2.16).
    table = probabilities({
        BOS: {A: 0.5, B: 0.5}, A: {A: 0.5, EOS: 0.5}, B: {EOS: 1.0},
        EOS: {PAD: 1.0}, PAD: {PAD: 1.0}, 0: {PAD: 1.0}})
    decoder = Seq2SeqDecoder(TableModel(table), BOS, EOS, PAD,
                             jit_compile=False)
    ids, mask = np.array([[7, EOS]], "int32"), np.ones((1, 2), "int32")
    short = ops.convert_to_numpy(decoder.beam_search(ids, mask, 6, 4, 0.0))
    long = ops.convert_to_numpy(decoder.beam_search(ids, mask, 6, 4, 5.0))
    assert list(short[0, :2]) == [B, EOS]
    assert list(long[0]) == [A] * 5 + [EOS]


def test_beam_width_must_be_positive():
    decoder = Seq2SeqDecoder(TableModel(TABLE), BOS, EOS, PAD)
    with pytest.raises(ValueError, match="beam_width"):
        decoder.beam_search(np.ones((1, 2), "int32"), np.ones((1, 2)), 4, 0)
