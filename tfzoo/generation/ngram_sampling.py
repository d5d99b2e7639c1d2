"""Sampling text from an n-gram language model.

The same options, and the same rules, as the neural models' `generate`:
each step turns `NGramLM.next_token_probabilities` into logits and picks
the next token with `sampling.next_token` (greedy at `temperature <= 0`,
else temperature, top-k and top-p).
"""

import random

import numpy as np

from tfzoo.decoding.sampling import next_token
from tfzoo.text.encoding import encode


def sample_ngram(model, tokenizer, prompts, max_new_tokens=100,
                 temperature=1.0, top_k=0, top_p=1.0, seed=None,
                 end_token_id=None):
    """Continues each prompt with up to `max_new_tokens` tokens.

    Args:
        model: an `NGramLM`.
        tokenizer: its tokenizer.
        prompts: a str or a list of str; an empty prompt starts from a
            newline.
        max_new_tokens: int, at least 1 (an n-gram model has no context
            limit: it reads the last `order - 1` tokens).
        temperature: float; 0 or less is greedy decoding.
        top_k: int; sample among the `top_k` most likely tokens (0: all).
        top_p: float in (0, 1]; sample within the nucleus of mass `top_p`.
        seed: int or None. The same seed gives the same text.
        end_token_id: int or None; a text stops after this id (left out).

    Returns:
        The continuations (without the prompts): a str for a str prompt,
        else a list of str.

    Raises:
        ValueError: `max_new_tokens` below 1, `top_p` outside (0, 1].

    Example:
    >>> sample_ngram(model, tokenizer, "ROMEO:", max_new_tokens=50, seed=1)
    '\\nWhat ...'
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got "
                         f"{max_new_tokens}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    single = isinstance(prompts, str)
    prompts = [prompts] if single else list(prompts)
    seed = random.randrange(2**31) if seed is None else seed % 2**31
    texts = []
    for row, prompt in enumerate(prompts):
        context = list(encode(tokenizer, prompt or "\n"))
        new_tokens = []
        for step in range(max_new_tokens):
            probabilities = model.next_token_probabilities(context)
            logits = np.log(probabilities).astype(np.float32)[None]
            # One stateless seed per (seed, prompt, step).
            token = int(next_token(logits, temperature, top_k, top_p,
                                   np.array([(seed + row) % 2**31, step],
                                            np.int32))[0])
            if token == end_token_id:
                break
            new_tokens.append(token)
            context.append(token)
        text = tokenizer.detokenize(np.array(new_tokens, np.int32))
        text = getattr(text, "numpy", lambda: text)()
        texts.append(text.decode("utf-8", "replace")
                     if isinstance(text, bytes) else str(text))
    return texts[0] if single else texts
