"""`NGramLM` on any text (Hypothesis): short texts, one token, orders far
above the text's length, both smoothings. Every next-token distribution
is proper and positive, scoring is finite and agrees with it, and a
saved model loads to the same numbers."""

import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tfzoo.models.ngram_lm import NGramLM

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def models_and_texts(draw):
    """`(model not yet fit, training ids, scored ids, contexts)`."""
    size = draw(st.integers(1, 6))
    token = st.integers(0, size - 1)
    model = NGramLM(draw(st.integers(1, 12)), size,
                    draw(st.sampled_from(["kneser_ney", "add_k"])),
                    k=draw(st.sampled_from([0.01, 0.5, 1.0])))
    train = draw(st.lists(token, max_size=14))
    scored = draw(st.lists(token, max_size=16))
    contexts = draw(st.lists(st.lists(token, max_size=16), min_size=1,
                             max_size=4))
    return model, train, scored, contexts


def edge(order, smoothing, train):
    """An example always tried: a text of 0, 1, 2 or 4 tokens."""
    return example((NGramLM(order, 7, smoothing), train, [0, 1, 2, 3, 4],
                    [[], [6], [0, 1, 2], [3] * 15]))


@SETTINGS
@given(models_and_texts())
@edge(12, "kneser_ney", [0, 1, 2, 3])  # the example
@edge(12, "add_k", [0, 1, 2, 3])
@edge(12, "kneser_ney", [])
@edge(12, "add_k", [5])
@edge(12, "kneser_ney", [5])
@edge(2, "kneser_ney", [5, 5])
@edge(3, "add_k", [1, 2])
def test_any_text_and_order_gives_proper_distributions(drawn):
    model, train, scored, contexts = drawn
    if not train:  # nothing to count: one line says so
        with pytest.raises(ValueError, match="non-empty 1-D array"):
            model.fit(train)
        return
    model.fit(train)
    for context in contexts + [train, scored]:
        probabilities = model.next_token_probabilities(context)
        assert probabilities.shape == (model.vocabulary_size,)
        assert probabilities.sum() == pytest.approx(1.0, abs=1e-9)
        assert np.all(probabilities > 0)
    scores = model.log_probabilities(scored)
    assert scores.shape == (max(len(scored) - 1, 0),)
    assert np.all(np.isfinite(scores)) and np.all(scores <= 0)
    for t in range(1, len(scored)):  # scoring is the same distribution
        assert scores[t - 1] == pytest.approx(np.log(
            model.next_token_probabilities(scored[:t])[scored[t]]))
    with tempfile.TemporaryDirectory() as folder:
        model.save(folder)
        loaded = NGramLM.load(folder)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.log_probabilities(scored), scores)
    for context in contexts:
        np.testing.assert_array_equal(
            loaded.next_token_probabilities(context),
            model.next_token_probabilities(context))
