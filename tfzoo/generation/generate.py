"""`generate`: continue prompts with a language model, from Python.

It runs the same `TextGenerator` that `tfzoo export` saves, one per model,
tokenizer and options, traced (and its loop compiled) once.
"""

import random

import tensorflow as tf

from tfzoo.models.model_cache import ModelCache
from tfzoo.serving.text_generator import MAX_NEW_TOKENS, TextGenerator
from tfzoo.text.encoding import valid_text

_GENERATORS = ModelCache()


def generate(
    model,
    tokenizer,
    prompts,
    max_new_tokens=100,
    temperature=1.0,
    top_k=0,
    top_p=1.0,
    seed=None,
    end_token_id=None,
    use_cache=True,
    jit_compile=True,
):
    """Continues each prompt with up to `max_new_tokens` tokens.

    One prefill pass reads the prompts into the model's cache, then a
    compiled loop adds one token per step (see `Decoder`).

    Args:
        model: a `TransformerLM` or `LSTMLM`.
        tokenizer: its tokenizer.
        prompts: a str, or a list of str of any lengths. Each token is
            predicted from the `max_sequence_length` tokens before it at
            most (so a longer prompt keeps its most recent tokens).
            Characters outside the vocabulary map to its unknown-token id.
        max_new_tokens: int, from 1 to 65,536. Past the model's context
            the window slides, as nanoGPT's sampler crops its context:
            cached decoding within it, then one pass over the last
            `max_sequence_length` tokens per new token.
        temperature: float; 0 or less is greedy decoding.
        top_k: int; sample among the `top_k` most likely tokens (0: all).
        top_p: float in (0, 1]; sample within the nucleus of mass `top_p`.
        seed: int or None. The same seed gives the same text.
        end_token_id: int or None; a row stops after generating this id.
        use_cache: bool; `False` re-runs the whole model at every step.
        jit_compile: bool; compile the decoding loop with XLA.

    Returns:
        The continuations (without the prompts): a str for a str prompt,
        else a list of str.

    Example:
    >>> generate(model, tokenizer, ["ROMEO:", "JULIET:"], max_new_tokens=50,
    ...          temperature=0.8, top_k=20, seed=1)
    ['\\nWhat ...', '\\nO ...']
    """
    single = isinstance(prompts, str)
    prompts = [prompts] if single else list(prompts)
    _check_arguments(model, prompts, max_new_tokens, top_p)
    if seed is None:
        seed = random.randrange(2**62)
    generator = _text_generator(
        model, tokenizer, use_cache, jit_compile, end_token_id
    )
    texts = generator.generate(
        tf.constant([valid_text(prompt) for prompt in prompts]),
        max_new_tokens=tf.constant(max_new_tokens, tf.int32),
        temperature=tf.constant(temperature, tf.float32),
        top_k=tf.constant(top_k, tf.int32),
        top_p=tf.constant(top_p, tf.float32),
        seed=tf.constant(seed, tf.int64),
    )["text"]
    texts = [t.decode("utf-8", errors="replace") for t in texts.numpy()]
    return texts[0] if single else texts


def score(model, tokenizer, texts):
    """The log-likelihood of each text under the model, scored whole.

    The exported `score` signature's computation (`TextGenerator.score`):
    overlapping windows of the max sequence length with a stride of half
    of it, every token but the first predicted once
    (`tfzoo.decoding.scoring`).

    Args:
        model: a `TransformerLM` or `LSTMLM`.
        tokenizer: its tokenizer.
        texts: a list of str, of any lengths.

    Returns:
        dict: `log_likelihood`, float32 array `(len(texts),)` in nats, and
        `token_count`, int32 array, the tokens scored; the perplexity of a
        text is `exp(-log_likelihood / token_count)`.

    Example:
    >>> score(model, tokenizer, ["To be, or not to be"])
    {'log_likelihood': array([-31.2], dtype=float32), 'token_count': ...}
    """
    if isinstance(texts, str):
        raise ValueError("give a list of texts")
    texts = [valid_text(text) for text in texts]
    generator = _text_generator(model, tokenizer, True, True, None)
    results = generator.score(tf.constant(texts, tf.string))
    return {name: value.numpy() for name, value in results.items()}


def _check_arguments(model, prompts, max_new_tokens, top_p):
    if not prompts:
        raise ValueError("give at least one prompt")
    for i, prompt in enumerate(prompts):
        if not isinstance(prompt, str):
            raise ValueError(f"prompt {i + 1} is not a string: {prompt!r}")
        if not prompt:
            raise ValueError(
                f"prompt {i + 1} is empty; give at least one character "
                "(a newline starts a fresh text)"
            )
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise ValueError(f"max_new_tokens must be from 1 to "
                         f"{MAX_NEW_TOKENS}, got {max_new_tokens}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")


def _text_generator(model, tokenizer, *options):
    """One `TextGenerator` per (model, tokenizer, options), reused: its
    graph is traced, and its loop compiled, once (again after the model
    changes in place: `tfzoo.models.model_cache`).

    Raises:
        ValueError: `model` is not a neural language model (an `NGramLM`
            samples with `generation.ngram_sampling` and scores itself).
    """
    if not hasattr(model, "max_sequence_length"):
        raise ValueError(f"{type(model).__name__} is not a neural language "
                         "model (an NGramLM samples with "
                         "tfzoo.generation.ngram_sampling.sample_ngram and "
                         "scores with its log_probabilities)")
    return _GENERATORS.get(
        model, (id(tokenizer), *options),
        lambda: TextGenerator(model, tokenizer, *options))
