"""`translate`: translate sentences with a trained translation model, from
Python.

It runs the same `Translator` that `tfzoo export` saves, one per model,
tokenizer and options, traced (and its loops compiled) once.
"""

import random

import tensorflow as tf

from tfzoo.models.model_cache import ModelCache
from tfzoo.serving.translator import DEFAULT_LENGTH_PENALTY, Translator
from tfzoo.text.encoding import valid_text

_TRANSLATORS = ModelCache()  # traced once per model and options


def translate(model, tokenizer, sources, beam_width=1, max_new_tokens=None,
              length_penalty=DEFAULT_LENGTH_PENALTY, temperature=0.0, top_k=0,
              top_p=1.0, seed=None, use_cache=True, jit_compile=True,
              batch_size=64, progress=None):
    """Translates each source sentence.

    Args:
        model: a `TransformerSeq2Seq` or `LSTMSeq2Seq`.
        tokenizer: its SentencePiece tokenizer.
        sources: a str or a list of str. A source longer than the model's
            `max_sequence_length - 1` tokens keeps its first ones.
        beam_width: int. 1 decodes greedily (or samples, with a
            `temperature` above 0); more runs beam search.
        max_new_tokens: int or None, the longest translation in tokens
            (default and most: `max_sequence_length`).
        length_penalty: float, beam search's `alpha` (see
            `Seq2SeqDecoder.beam_search`).
        temperature, top_k, top_p: sampling, with `beam_width=1` (see
            `next_token`); `temperature <= 0` is greedy.
        seed: int or None; the same seed, sentences and `batch_size` give
            the same samples.
        use_cache: bool; `False` re-runs the whole model at every step.
        jit_compile: bool; compile the decoding loops with XLA.
        batch_size: int, sentences decoded together.
        progress: callable `progress("translating", done, total)` or None,
            called after each batch with the sentences translated (such as
            `tfzoo.console.ProgressBars`).

    Returns:
        A str for a str source, else a list of str.

    Raises:
        ValueError: a source that is not a str, `beam_width < 1`, sampling
            with beam search, `max_new_tokens` out of range, a negative
            `length_penalty`.

    Example:
    >>> translate(run.model, run.tokenizer, ["File not found"], beam_width=4)
    ['Datei nicht gefunden']
    """
    single = isinstance(sources, str)
    sources = [sources] if single else list(sources)
    for i, source in enumerate(sources):
        if not isinstance(source, str):
            raise ValueError(f"source {i + 1} is not a string: {source!r}")
    if beam_width < 1:
        raise ValueError(f"beam_width must be at least 1, got {beam_width}")
    if beam_width > 1 and temperature > 0:
        raise ValueError("sampling (temperature > 0) needs beam_width 1")
    longest = model.max_sequence_length
    if max_new_tokens is not None and not 1 <= max_new_tokens <= longest:
        raise ValueError(f"max_new_tokens must be from 1 to {longest}, got "
                         f"{max_new_tokens}")
    seed = random.randrange(2**31) if seed is None else seed % 2**31
    if length_penalty < 0:
        raise ValueError(f"length_penalty must be at least 0, got "
                         f"{length_penalty}")
    translator = _TRANSLATORS.get(
        model, (id(tokenizer), use_cache, jit_compile),
        lambda: Translator(model, tokenizer, use_cache, jit_compile))
    # Sentences of similar length share a batch (less padding, fewer
    # shapes to compile); the answers come back in the given order.
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    texts = [None] * len(sources)
    progress = progress or (lambda stage, done, total: None)
    for start in range(0, len(order), batch_size):
        indices = order[start:start + batch_size]
        batch = tf.constant([valid_text(sources[i]) for i in indices])
        tokens = translator.translate_ids_function(
            batch, beam_width,
            tf.constant(max_new_tokens or model.max_sequence_length),
            tf.constant(temperature, tf.float32), tf.constant(top_k),
            tf.constant(top_p, tf.float32),
            tf.constant([seed, start], tf.int32),
            tf.constant(length_penalty, tf.float32))
        decoded = translator.decode_tokens_function(tokens).numpy()
        for i, text in zip(indices, decoded):
            texts[i] = "" if not sources[i] else text.decode("utf-8",
                                                             "replace")
        progress("translating", start + len(indices), len(sources))
    return texts[0] if single else texts
