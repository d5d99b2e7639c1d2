"""`NGramLM`: interpolated modified Kneser-Ney over token ids."""

import numpy as np
import pytest

from tfzoo.models.ngram_lm import NGramLM, modified_kneser_ney_discounts

from tests.conftest import make_text

# 20 tokens over {0, 1, 2}; its 19 bigrams and their counts:
# 01 x7, 10 x4, 20 x3, 12 x2, 02 x1, 22 x1, 00 x1.
TWENTY = [0, 1, 0, 1, 0, 1, 0, 2, 0, 1, 2, 2, 0, 1, 0, 1, 2, 0, 0, 1]


def char_ids(text):
    vocabulary = sorted(set(text))
    return np.array([vocabulary.index(c) for c in text]), len(vocabulary)


def test_discounts_match_a_hand_computed_example():
    model = NGramLM(2, 3).fit(TWENTY)
    # Count-of-counts of the bigrams: n1 = 3 (02, 22, 00), n2 = 1 (12),
    # n3 = 1 (20), n4 = 1 (10). Y = 3 / (3 + 2) = 0.6;
    # D1 = 1 - 2 * 0.6 * 1/3 = 0.6; D2 = 2 - 3 * 0.6 * 1/1 = 0.2;
    # D3+ = 3 - 4 * 0.6 * 1/1 = 0.6.
    assert model.discounts[1] == pytest.approx((0.6, 0.2, 0.6))
    # Unigrams are continuation counts: distinct left neighbours of 0
    # (1, 2, 0), of 1 (0) and of 2 (0, 1, 2): (3, 1, 3).
    np.testing.assert_array_equal(model.tables[0][2], [7.0])  # their total
    # P(1 | 0) = (7 - D3+) / c(0.) + gamma(0) * P_1(1), c(0.) = 9 (01, 02,
    # 00); gamma(0) = (D1 * 2 + D3+ * 1) / 9 = 0.2; P_1(1) = 1/3 (all
    # unigram mass is discounted and spread uniformly).
    expected = (7 - 0.6) / 9 + 0.2 / 3
    assert model.next_token_probabilities([0])[1] == pytest.approx(expected)
    assert np.exp(model.log_probabilities([0, 1])[0]) == pytest.approx(
        expected)


def test_discounts_stay_within_the_counts_they_apply_to():
    # The last: n1 = 2, n2 = 1, n3 = 1, n4 = 6, so D3+ = 3 - 4 * 0.5 * 6
    # = -9 by the formula: kept above 0, so that no token gets 0.
    for counts in ([1, 1], [3], [], [1, 1, 2, 3, 4, 4, 4, 4, 4, 4]):
        d1, d2, d3 = modified_kneser_ney_discounts(np.array(counts, float))
        assert 0 < d1 <= 1 and 0 < d2 <= 2 and 0 < d3 <= 3


@pytest.mark.parametrize("smoothing", ["kneser_ney", "add_k"])
@pytest.mark.parametrize("order", [1, 2, 3, 5, 7])
def test_every_distribution_sums_to_1_and_agrees_with_scoring(smoothing,
                                                              order):
    ids, size = char_ids(make_text(400))
    model = NGramLM(order, size + 3, smoothing, k=0.5).fit(ids)  # 3 unseen
    rng = np.random.default_rng(0)
    scored = model.log_probabilities(ids[:300])
    for end in list(range(1, 40)) + list(rng.integers(1, 300, 40)):
        context = ids[:end]
        probabilities = model.next_token_probabilities(context)
        assert probabilities.sum() == pytest.approx(1.0, abs=1e-9)
        assert np.all(probabilities > 0)
        assert np.log(probabilities[ids[end]]) == pytest.approx(
            scored[end - 1])
    # Contexts never seen, and made of unseen tokens, too.
    for context in ([size, size + 1], [size + 2] * 8, []):
        assert model.next_token_probabilities(context).sum() == (
            pytest.approx(1.0))


def test_training_perplexity_falls_as_the_order_grows():
    ids, size = char_ids(make_text(3000))
    losses = [-NGramLM(n, size).fit(ids).log_probabilities(ids).mean()
              for n in range(1, 7)]
    assert all(a > b for a, b in zip(losses, losses[1:])), losses


def test_an_unseen_token_gets_a_finite_loss():
    ids, size = char_ids(make_text(500))
    model = NGramLM(4, size + 1).fit(ids)
    unseen = np.append(ids[:20], size)
    loss = -model.log_probabilities(unseen)[-1]
    assert np.isfinite(loss) and loss > -model.log_probabilities(ids).mean()


def test_save_and_load_round_trip(tmp_path):
    ids, size = char_ids(make_text(500))
    model = NGramLM(5, size).fit(ids)
    model.save(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ngram.json",
                                                           "ngram.npz"]
    loaded = NGramLM.load(str(tmp_path))
    assert loaded.get_config() == model.get_config()
    assert loaded.discounts == model.discounts
    np.testing.assert_array_equal(loaded.log_probabilities(ids),
                                  model.log_probabilities(ids))


@pytest.mark.parametrize("arguments, message", [
    ((0, 10), "order must be at least 1"),
    ((3, 10, "witten_bell"), "unknown smoothing"),
    ((3, 10, "add_k", 0.0), "k must be above 0"),
])
def test_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        NGramLM(*arguments)


def test_bad_token_ids():
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 3\)"):
        NGramLM(2, 3).fit([0, 1, 3])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        NGramLM(2, 3).fit([])


# === Texts shorter than the order ===


@pytest.mark.parametrize("smoothing", ["kneser_ney", "add_k"])
def test_an_order_above_the_texts_length_backs_off(smoothing):
    # The example: 4 tokens, order 12, then a token never seen.
    model = NGramLM(12, 7, smoothing).fit([0, 1, 2, 3])
    scores = model.log_probabilities([0, 1, 2, 3, 4])
    assert scores.shape == (4,) and np.all(np.isfinite(scores))
    # Orders 5 to 12 have no n-grams: the model is the 4-gram model.
    np.testing.assert_array_equal(
        scores, NGramLM(4, 7, smoothing).fit([0, 1, 2, 3]).log_probabilities(
            [0, 1, 2, 3, 4]))
    assert model.num_ngrams() == 4 + 3 + 2 + 1
    for context in ([], [0], [0, 1, 2], [0, 1, 2, 3, 4, 5, 6, 0, 1, 2]):
        probabilities = model.next_token_probabilities(context)
        assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(probabilities > 0)


@pytest.mark.parametrize("smoothing", ["kneser_ney", "add_k"])
def test_the_longest_order_with_n_grams_counts_as_the_highest(smoothing):
    ids, size = char_ids("to be or not to be\n")  # 19 tokens
    model, model_19 = (NGramLM(n, size, smoothing).fit(ids) for n in (30, 19))
    for end in range(len(ids) + 1):
        np.testing.assert_array_equal(
            model.next_token_probabilities(ids[:end]),
            model_19.next_token_probabilities(ids[:end]))
    after = model.next_token_probabilities(ids[:17])  # "...to b"
    if smoothing == "add_k":  # after "to b" (twice) came "e"
        assert np.argmax(after) == ids[17]
    else:
        # Every n-gram above order 1 has a continuation count of 1 (the
        # 19-gram: a count of 1), so n_2 = 0 and D_1 = 1 - 2Y n_2/n_1 = 1
        # takes whole counts: the orders above 1 pass all their mass on.
        np.testing.assert_allclose(after,
                                   model.next_token_probabilities([]))


def test_a_one_token_text_is_a_unigram_model():
    for smoothing in ("kneser_ney", "add_k"):
        model = NGramLM(3, 4, smoothing).fit([2])
        np.testing.assert_array_equal(
            model.next_token_probabilities([2, 2]),
            NGramLM(1, 4, smoothing).fit([2]).next_token_probabilities([]))
    # add-k: (c + k) / (c. + kV) = 2/5 for the token seen, 1/5 for others.
    np.testing.assert_allclose(
        NGramLM(3, 4, "add_k").fit([2]).next_token_probabilities([1, 2]),
        [0.2, 0.2, 0.4, 0.2])


def test_a_model_not_yet_fit_says_so():
    for call in (lambda m: m.log_probabilities([0, 1]),
                 lambda m: m.next_token_probabilities([0])):
        with pytest.raises(ValueError, match="has not been fit: call fit"):
            call(NGramLM(3, 4))


def test_scoring_ids_outside_the_vocabulary():
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 4\)"):
        NGramLM(2, 4).fit([0, 1]).log_probabilities([0, 4])
