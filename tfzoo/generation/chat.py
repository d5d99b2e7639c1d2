"""`chat`: talk with a pretrained chat model, from Python and `tfzoo chat`.

A conversation is a list of `{"role": "system" | "user" | "assistant",
"content": str}` messages. Its prompt is written by the model's own chat
template (`tfzoo.text.chat_template.render`, as Hugging Face applies it),
and the model's reply ends at its end-of-turn token (SmolLM2's
`<|im_end|>`), which is not part of the reply.

`chat` answers whole (the same compiled loop as `tfzoo.generate`);
`stream_reply` yields the reply piece by piece as each token comes, for an
interactive chat: one compiled step per token, reading and writing the
key/value cache.
"""

import random
import sys

import tensorflow as tf
from keras import ops

from tfzoo.decoding.sampling import next_token
from tfzoo.generation.generate import generate
from tfzoo.models.model_cache import ModelCache
from tfzoo.serving.text_generator import BUFFER_STEP
from tfzoo.text.chat_template import ChatFormat, check_messages, render

DEFAULT_MAX_NEW_TOKENS = 256
_STREAMS = ModelCache()


def chat_prompt(run, messages, system=None):
    """The prompt text of a conversation, by the run's chat template.

    Args:
        run: a `tfzoo.runs.Run` of a pretrained chat model.
        messages: list of `{"role", "content"}` dicts (see the module
            docstring).
        system: str or None, a system prompt put first (a conversation
            may also start with its own system message).

    Raises:
        ValueError: the run has no chat template; a malformed message.
    """
    if not run.chat_template:
        raise ValueError(
            f"{run.run_dir or 'this model'} has no chat template: chat needs "
            "an instruction-tuned pretrained model (tfzoo import)")
    messages = list(messages)
    if system:
        messages = [{"role": "system", "content": system}, *messages]
    check_messages(messages)
    return render(run.chat_template, messages, True,
                  run.settings.get("special_tokens"))


def end_of_turn_id(run):
    """The id of the token that ends the model's turn (its `eos`)."""
    token = (run.settings.get("special_tokens") or {}).get("eos")
    if token is None:
        return None
    return int(run.tokenizer.token_to_id(token))


def chat_format_of(run):
    """The `ChatFormat` (the template in the graph) of a run's chat
    template, or None, with a note, when the template is not ChatML (the
    export then has no `chat` signature; `tfzoo chat` still works)."""
    try:
        return ChatFormat.from_template(run.chat_template,
                                        run.settings.get("special_tokens"))
    except ValueError as error:
        print(f"note: no chat signature: {error}", file=sys.stderr)
        return None


def chat(run, messages, max_new_tokens=DEFAULT_MAX_NEW_TOKENS, system=None,
         temperature=0.0, top_k=0, top_p=1.0, seed=None):
    """The model's reply to a conversation.

    Args:
        run: a `Run` of a pretrained chat model (`tfzoo.load_pretrained`,
            `tfzoo.load_run` of an imported run).
        messages: list of `{"role", "content"}` dicts, or one str (a single
            user message).
        max_new_tokens: int, the longest reply, in tokens.
        system: str or None, a system prompt (default: the template's).
        temperature, top_k, top_p, seed: sampling, as `tfzoo.generate`;
            the default is greedy.

    Returns:
        str, the reply, without the end-of-turn token.

    Raises:
        ValueError: see `chat_prompt`; options out of range.

    Example:
    >>> run = tfzoo.load_pretrained(path_to_smollm2_gguf)
    >>> tfzoo.chat(run, "What is the capital of France? Answer in one "
    ...            "sentence.")
    'The capital of France is Paris.'
    """
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    prompt = chat_prompt(run, messages, system)
    return generate(run.model, run.tokenizer, prompt,
                    max_new_tokens=max_new_tokens, temperature=temperature,
                    top_k=top_k, top_p=top_p, seed=seed,
                    end_token_id=end_of_turn_id(run))


def stream_reply(run, messages, max_new_tokens=DEFAULT_MAX_NEW_TOKENS,
                 system=None, temperature=0.0, top_k=0, top_p=1.0,
                 seed=None):
    """Yields the model's reply to a conversation piece by piece (str), as
    its tokens come; the pieces joined are the reply. Same arguments as
    `chat`; a conversation longer than the model's max sequence length
    less `max_new_tokens` keeps its most recent tokens."""
    prompt = chat_prompt(run, messages, system)
    model, tokenizer = run.model, run.tokenizer
    length = int(model.max_sequence_length)
    max_new_tokens = max(1, min(int(max_new_tokens), length - 1))
    ids = tokenizer.tokenize(tf.constant([prompt])).to_tensor()
    ids = tf.cast(ids, "int32")[:, -(length - max_new_tokens):]
    start = int(ids.shape[1])
    width = min(-(-(start + max_new_tokens) // BUFFER_STEP) * BUFFER_STEP,
                length)
    stream = _STREAMS.get(model, (), lambda: _TokenStream(model))
    seed = random.randrange(2**62) if seed is None else int(seed)
    seed = tf.constant([seed % 2**31, (seed // 2**31) % 2**30], tf.int32)
    options = (tf.constant(temperature, tf.float32), tf.constant(top_k),
               tf.constant(top_p, tf.float32), seed)
    end = end_of_turn_id(run)
    logits, cache = stream.prefill(ids, model.initial_cache(1, width))
    reply_ids, written = [], ""
    for index in range(start, start + max_new_tokens):
        token, logits, cache = stream.step(logits, cache, tf.constant(index),
                                           *options)
        if int(token[0]) == end:
            break
        reply_ids.append(int(token[0]))
        text = _decode(tokenizer, reply_ids)
        if not text.endswith("\ufffd"):  # not inside a character's bytes
            yield text[len(written):]
            written = text
    text = _decode(tokenizer, reply_ids)
    if len(text) > len(written):
        yield text[len(written):]


def _decode(tokenizer, ids):
    if not ids:
        return ""
    text = tokenizer.detokenize(tf.constant([ids]))[0].numpy()
    return text.decode("utf-8", errors="replace")


class _TokenStream:
    """A model's prefill and its one-token step, traced (the step compiled
    with XLA) once per model."""

    def __init__(self, model):
        self.model = model
        self.prefill = tf.function(self._prefill, reduce_retracing=True)
        self.step = tf.function(self._step, jit_compile=True)

    def _prefill(self, ids, cache):
        logits, cache = self.model.call_with_cache(ids, cache, 0)
        return logits[:, -1], cache

    def _step(self, logits, cache, index, temperature, top_k, top_p, seed):
        # The same seed per position as `tfzoo.decoding.Decoder`.
        token = next_token(logits, temperature, top_k, top_p,
                           ops.stack([seed[0], seed[1] + index]))
        logits, cache = self.model.call_with_cache(token[:, None], cache,
                                                   index)
        return token, logits[:, 0], cache
