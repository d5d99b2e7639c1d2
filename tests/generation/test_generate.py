"""`tfzoo.generate`: cached decoding against a plain step-by-step reference."""

import re

import keras
import numpy as np
import pytest

import tfzoo
from tfzoo.models import LSTMLM, TransformerLM
from tfzoo.text import CharTokenizer, decode, encode

from tests.conftest import make_text

CONTEXT = 32
PROMPTS = ["The king", "S", "And old men weep for"]


@pytest.fixture(scope="module")
def tokenizer():
    return CharTokenizer.from_text(make_text())


def transformer(vocabulary_size):
    keras.utils.set_random_seed(1)
    return TransformerLM(vocabulary_size, CONTEXT, num_layers=2, num_heads=2,
                         hidden_dim=32)


def lstm(vocabulary_size):
    keras.utils.set_random_seed(1)
    return LSTMLM(vocabulary_size, CONTEXT, embedding_dim=16, hidden_dim=32,
                  num_layers=2)


@pytest.fixture(scope="module", params=[transformer, lstm],
                ids=["transformer", "lstm"])
def model(request, tokenizer):
    return request.param(tokenizer.vocabulary_size())


def greedy_reference(model, tokenizer, prompt, max_new_tokens):
    """Greedy decoding the slow, obvious way: re-run the whole model on the
    whole text for every new token."""
    ids = list(encode(tokenizer, prompt))
    for _ in range(max_new_tokens):
        logits = model(np.array([ids], "int32"))[0, -1]
        ids.append(int(np.argmax(logits)))
    return decode(tokenizer, ids[len(encode(tokenizer, prompt)):])


def test_cached_greedy_equals_full_rerun(model, tokenizer):
    for prompt in PROMPTS:
        expected = greedy_reference(model, tokenizer, prompt, 10)
        assert tfzoo.generate(model, tokenizer, prompt, max_new_tokens=10,
                              temperature=0) == expected


def test_uncached_loop_agrees(model, tokenizer):
    kwargs = dict(max_new_tokens=12, temperature=0.9, top_k=5, seed=3)
    assert tfzoo.generate(model, tokenizer, PROMPTS, **kwargs) == (
        tfzoo.generate(model, tokenizer, PROMPTS, use_cache=False, **kwargs))


def test_xla_and_plain_graph_agree(model, tokenizer):
    kwargs = dict(max_new_tokens=12, temperature=0)
    assert tfzoo.generate(model, tokenizer, PROMPTS, **kwargs) == (
        tfzoo.generate(model, tokenizer, PROMPTS, jit_compile=False, **kwargs))


def test_batch_of_different_lengths_equals_each_alone(model, tokenizer):
    together = tfzoo.generate(model, tokenizer, PROMPTS, max_new_tokens=15,
                              temperature=0)
    alone = [tfzoo.generate(model, tokenizer, p, max_new_tokens=15,
                            temperature=0) for p in PROMPTS]
    assert together == alone
    assert all(len(text) == 15 for text in together)  # 15 characters


def test_top_k_one_equals_greedy(model, tokenizer):
    greedy = tfzoo.generate(model, tokenizer, PROMPTS, max_new_tokens=10,
                            temperature=0)
    assert tfzoo.generate(model, tokenizer, PROMPTS, max_new_tokens=10,
                          temperature=1.5, top_k=1, seed=9) == greedy


def test_sampling_is_reproducible_with_a_seed(model, tokenizer):
    def sample(seed):
        return tfzoo.generate(model, tokenizer, PROMPTS, max_new_tokens=20,
                              temperature=1.0, top_p=0.9, seed=seed)

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)


def test_end_token_stops_a_row(model, tokenizer):
    free = tfzoo.generate(model, tokenizer, PROMPTS, max_new_tokens=20,
                          temperature=0)
    end = free[0][3]  # a character the first row generates
    end_id = int(encode(tokenizer, end)[0])
    stopped = tfzoo.generate(model, tokenizer, PROMPTS, max_new_tokens=20,
                             temperature=0, end_token_id=end_id)
    for full, cut in zip(free, stopped):
        assert cut == full.split(end)[0]
    assert len(stopped[0]) <= 3


def test_long_prompt_keeps_its_most_recent_tokens(model, tokenizer):
    prompt = make_text()[:200]
    tail = prompt[-CONTEXT:]
    assert tfzoo.generate(model, tokenizer, prompt, max_new_tokens=10,
                          temperature=0) == tfzoo.generate(
        model, tokenizer, tail, max_new_tokens=10, temperature=0)


def sliding_reference(model, tokenizer, prompt, max_new_tokens):
    """Greedy decoding as nanoGPT's sampler does it: each token predicted
    by the model run on the last CONTEXT tokens (the cropped context)."""
    ids = list(encode(tokenizer, prompt))
    start = len(ids)
    for _ in range(max_new_tokens):
        window = ids[-CONTEXT:]
        logits = model(np.array([window], "int32"))[0, -1]
        ids.append(int(np.argmax(logits)))
    return decode(tokenizer, ids[start:])


def test_past_the_context_the_window_slides(model, tokenizer):
    # A one-token prompt and one longer than the context, and more new
    # tokens than the context holds; cached and uncached loops alike.
    prompts = ["S", make_text()[:40]]
    new = CONTEXT + 6
    expected = [sliding_reference(model, tokenizer, p, new) for p in prompts]
    for use_cache in (True, False):
        texts = tfzoo.generate(model, tokenizer, prompts, max_new_tokens=new,
                               temperature=0, use_cache=use_cache)
        assert texts == expected, use_cache


def test_unknown_characters_and_bad_bytes_do_not_crash(model, tokenizer):
    texts = tfzoo.generate(
        model, tokenizer, ["日本 ✓ The", "The \udcff king"], max_new_tokens=5,
        temperature=0)
    assert [len(t) for t in texts] == [5, 5]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(prompts=[""]), "prompt 1 is empty"),
        (dict(prompts=[]), "at least one prompt"),
        (dict(max_new_tokens=0), "max_new_tokens must be from 1 to 65536"),
        (dict(max_new_tokens=65537), "max_new_tokens must be from 1 to "),
        (dict(top_p=0.0), "top_p must be in (0, 1]"),
        (dict(top_p=1.5), "top_p must be in (0, 1]"),
    ],
)
def test_bad_arguments_are_refused(model, tokenizer, kwargs, message):
    arguments = {"prompts": ["The"], "max_new_tokens": 5, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        tfzoo.generate(model, tokenizer, **arguments)


def test_temperature_zero_or_less_is_greedy(model, tokenizer):
    greedy = tfzoo.generate(model, tokenizer, PROMPTS, max_new_tokens=8,
                            temperature=0)
    assert tfzoo.generate(model, tokenizer, PROMPTS, max_new_tokens=8,
                          temperature=-2.0, seed=1) == greedy


def test_default_length_is_200_characters(tokenizer):
    from tfzoo.text.kinds import default_new_tokens

    assert default_new_tokens(tokenizer) == 200
