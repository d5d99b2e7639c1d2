"""The sampling rules of `next_token`, on hand-made distributions."""

import numpy as np
import pytest

from tfzoo.decoding import next_token

# Probabilities 0.5, 0.3, 0.15, 0.05 (no ties), in a shuffled order.
PROBABILITIES = np.array([0.15, 0.5, 0.05, 0.3])
ROWS = 4000


def draws(top_k=0, top_p=1.0, temperature=1.0, seed=(1, 2)):
    logits = np.log(np.tile(PROBABILITIES, (ROWS, 1))).astype("float32")
    tokens = next_token(logits, temperature, top_k, top_p, np.array(seed, "int32"))
    return np.asarray(tokens)


def test_greedy_when_temperature_is_zero_or_less():
    for temperature in (0.0, -1.0):
        assert set(draws(temperature=temperature)) == {1}


def test_top_k_one_is_greedy():
    logits = np.random.default_rng(0).normal(size=(64, 50)).astype("float32")
    greedy = next_token(logits, 0.0, 0, 1.0, np.array([0, 0], "int32"))
    top_1 = next_token(logits, 1.0, 1, 1.0, np.array([5, 7], "int32"))
    np.testing.assert_array_equal(top_1, greedy)
    np.testing.assert_array_equal(greedy, logits.argmax(-1))


def test_top_k_keeps_the_k_most_likely():
    assert set(draws(top_k=2)) == {1, 3}
    assert set(draws(top_k=3)) == {0, 1, 3}


@pytest.mark.parametrize(
    "top_p, nucleus",
    [
        (0.4, {1}),  # 0.5 alone reaches 0.4
        (0.75, {1, 3}),  # 0.5 + 0.3
        (0.85, {0, 1, 3}),  # 0.5 + 0.3 + 0.15
        (1.0, {0, 1, 2, 3}),
        (1e-9, {1}),  # the most likely token is always in
    ],
)
def test_top_p_never_leaves_the_nucleus(top_p, nucleus):
    tokens = draws(top_p=top_p)
    assert set(tokens) == nucleus  # every nucleus token drawn, no other


def test_sampling_follows_the_distribution():
    counts = np.bincount(draws(), minlength=4) / ROWS
    np.testing.assert_allclose(counts, PROBABILITIES, atol=0.03)


def test_nucleus_is_renormalised():
    # Within {1, 3} the odds are 0.5 : 0.3.
    tokens = draws(top_p=0.75)
    assert np.mean(tokens == 1) == pytest.approx(0.5 / 0.8, abs=0.03)


def test_temperature_reshapes_the_distribution():
    # Temperature T samples from p ** (1 / T), renormalised.
    for temperature in (0.25, 2.0):
        expected = PROBABILITIES ** (1 / temperature)
        expected /= expected.sum()
        counts = np.bincount(draws(temperature=temperature), minlength=4)
        np.testing.assert_allclose(counts / ROWS, expected, atol=0.03)


def test_same_seed_same_tokens_other_seed_other_tokens():
    np.testing.assert_array_equal(draws(seed=(3, 4)), draws(seed=(3, 4)))
    assert np.any(draws(seed=(3, 4)) != draws(seed=(3, 5)))
