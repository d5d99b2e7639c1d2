"""Text generation by sampling one token at a time.

This simple sampler re-runs the model over a fixed window at each step; it
serves training-time samples and is the reference that faster, cached
decoding must agree with.
"""

import weakref

import numpy as np
import tensorflow as tf

from tfzoo.text import decode, encode


def generate_text(
    model,
    tokenizer,
    prompt="\n",
    max_new_tokens=200,
    temperature=1.0,
    seed=None,
):
    """Continues `prompt` with `max_new_tokens` sampled tokens.

    Args:
        model: a `TransformerLM` or `LSTMLM` (anything with `context_length`
            that maps `(1, length)` ids to logits).
        tokenizer: the model's tokenizer.
        prompt: str. An empty prompt starts from a newline.
        max_new_tokens: int.
        temperature: float. 0 picks the most likely token (greedy).
        seed: int or None, for reproducible samples.

    Returns:
        The prompt followed by the generated text, as a str.

    Example:
    >>> text = generate_text(model, tokenizer, "ROMEO:", max_new_tokens=50)
    """
    context_length = model.context_length
    token_ids = list(encode(tokenizer, prompt or "\n"))
    rng = np.random.default_rng(seed)
    window = np.zeros((1, context_length), np.int32)
    predict = _compiled_forward(model)
    for _ in range(max_new_tokens):
        recent = token_ids[-context_length:]
        window[0, : len(recent)] = recent
        logits = predict(window)[0, len(recent) - 1].numpy().astype(np.float64)
        if temperature <= 0:
            next_id = int(np.argmax(logits))
        else:
            probabilities = np.exp((logits - logits.max()) / temperature)
            probabilities /= probabilities.sum()
            next_id = int(rng.choice(len(probabilities), p=probabilities))
        token_ids.append(next_id)
    return decode(tokenizer, token_ids)


_FORWARD_FUNCTIONS = weakref.WeakKeyDictionary()


def _compiled_forward(model):
    """One compiled inference function per model, reused across samples."""
    if model not in _FORWARD_FUNCTIONS:
        _FORWARD_FUNCTIONS[model] = tf.function(
            lambda ids: model(ids, training=False), jit_compile=True
        )
    return _FORWARD_FUNCTIONS[model]
