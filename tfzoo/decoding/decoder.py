"""The decoding loop: one prefill pass, then one token per step.

`Decoder` works on token ids. Prompts of different lengths share a batch
the way keras-hub's samplers do it: each row's prompt is left-aligned in a
buffer of `max_sequence_length` ids; the loop starts at the shortest prompt's
end, and a row that is still inside its own prompt copies its prompt token
instead of sampling. Every row thus sees exactly its own prefix, so a batch
gives the tokens each prompt would give alone.

With `use_cache=True` each step runs the model on one new token per row
(`model.call_with_cache`: a Transformer's key/value cache, an LSTM's
state). With `use_cache=False` each step re-runs the model over the whole
window: the slow reference that the cached path must agree with.

The buffer may be longer than the model's context (`max_sequence_length`,
L): each token is predicted from the L tokens before it at most, as
nanoGPT's sampler crops its context. Within the context the cache serves;
past it, each step re-runs the model over the last L tokens (the sliding
window).
"""

import tensorflow as tf
from keras import ops

from tfzoo.decoding.sampling import next_token


class Decoder:
    """Generates token ids with a `TransformerLM` or an `LSTMLM`.

    Args:
        model: a model with `max_sequence_length`, `initial_cache` and
            `call_with_cache`.
        use_cache: bool. `False` re-runs the full model at every step.
        jit_compile: bool. Compile the loop with XLA (the prefill, whose
            length varies from call to call, runs without it).

    Example:
    >>> decoder = Decoder(model)
    >>> ids = keras.ops.zeros((2, model.max_sequence_length), "int32")
    >>> tokens, stops = decoder(ids, prompt_lengths=[3, 5], max_new_tokens=10)
    >>> # Row i's new tokens: tokens[i, prompt_lengths[i]:stops[i]].
    """

    def __init__(self, model, use_cache=True, jit_compile=True):
        self.model = model
        self.use_cache = use_cache
        self._loop = tf.function(self._decode_loop, jit_compile=jit_compile)

    def __call__(
        self,
        token_ids,
        prompt_lengths,
        max_new_tokens,
        temperature=0.0,
        top_k=0,
        top_p=1.0,
        seed=(0, 0),
        end_token_id=-1,
    ):
        """Continues each row of `token_ids` after its prompt.

        Args:
            token_ids: int32 `(batch, width)`; row i holds its prompt in
                `[:prompt_lengths[i]]`, the rest is overwritten. `width` must
                be at least `max(prompt_lengths) + max_new_tokens`; it may
                be more than the model's max sequence length (the key/value
                cache is as wide as the smaller of the two).
            prompt_lengths: int32 `(batch,)`, each from 1 to the model's
                max sequence length.
            max_new_tokens: int scalar, at least 1.
            temperature, top_k, top_p: see `next_token`.
            seed: int32 `(2,)`, a stateless random seed; step `i` uses
                `(seed[0], seed[1] + i)`.
            end_token_id: int scalar; a row stops after generating it (it is
                not part of the output). -1: no end token.

        Returns:
            `(token_ids, stop_positions)`: row i's new tokens are
            `token_ids[i, prompt_lengths[i]:stop_positions[i]]`.
        """
        token_ids = ops.cast(token_ids, "int32")
        prompt_lengths = ops.cast(prompt_lengths, "int32")
        start = ops.min(prompt_lengths)
        if self.use_cache:
            cache = self.model.initial_cache(
                ops.shape(token_ids)[0],
                ops.minimum(ops.shape(token_ids)[1],
                            self.model.max_sequence_length),
            )
            logits, cache = self.model.call_with_cache(
                token_ids[:, :start], cache, 0
            )
        else:
            cache = ()
            logits = self.model(token_ids[:, :start], training=False)
        return self._loop(
            token_ids,
            prompt_lengths,
            start,
            logits[:, -1],
            cache,
            ops.cast(max_new_tokens, "int32"),
            ops.cast(temperature, "float32"),
            ops.cast(top_k, "int32"),
            ops.cast(top_p, "float32"),
            ops.cast(seed, "int32"),
            ops.cast(end_token_id, "int32"),
        )

    def _decode_loop(
        self,
        token_ids,
        prompt_lengths,
        start,
        logits,
        cache,
        max_new_tokens,
        temperature,
        top_k,
        top_p,
        seed,
        end_token_id,
    ):
        stop_positions = prompt_lengths + max_new_tokens
        end = ops.minimum(ops.max(stop_positions), ops.shape(token_ids)[1])

        def more_to_do(index, token_ids, logits, cache, stop_positions):
            return ops.logical_and(
                index < end, ops.any(index < stop_positions)
            )

        def step(index, token_ids, logits, cache, stop_positions):
            # `logits` predict position `index`.
            step_seed = ops.stack([seed[0], seed[1] + index])
            sampled = next_token(logits, temperature, top_k, top_p, step_seed)
            in_prompt = index < prompt_lengths
            token = ops.where(
                in_prompt, ops.take(token_ids, index, axis=1), sampled
            )
            ends_here = ops.logical_and(
                ops.logical_not(in_prompt),
                ops.logical_and(token == end_token_id, index < stop_positions),
            )
            stop_positions = ops.where(ends_here, index, stop_positions)
            token_ids = write_column(token_ids, token, index)
            if not self.use_cache:
                logits = self._window_logits(token_ids, index)
            else:
                def cached():
                    logits, new_cache = self.model.call_with_cache(
                        token[:, None], cache, index
                    )
                    return logits[:, 0], new_cache

                logits, cache = ops.cond(
                    index < self.model.max_sequence_length, cached,
                    lambda: (self._window_logits(token_ids, index), cache))
            return index + 1, token_ids, logits, cache, stop_positions

        _, token_ids, _, _, stop_positions = ops.while_loop(
            more_to_do,
            step,
            (start, token_ids, logits, cache, stop_positions),
        )
        return token_ids, ops.minimum(stop_positions, end)

    def _window_logits(self, token_ids, index):
        """The logits that predict position `index + 1` from the tokens
        up to `index`, the last max sequence length of them at most: the
        model run over that window (the model is causal, so what follows
        `index` in a window that starts at 0 changes nothing)."""
        length = self.model.max_sequence_length
        start = ops.maximum(index + 1 - length, 0)
        # Padded so that the slice is valid for any buffer width (a buffer
        # narrower than the context never reaches this branch, but XLA
        # compiles it).
        padded = ops.pad(token_ids, ((0, 0), (0, length)))
        window = ops.slice(padded, (0, start),
                           (ops.shape(token_ids)[0], length))
        logits = self.model(window, training=False)
        return ops.take(logits, index - start, axis=1)


def write_column(token_ids, column, index):
    """`token_ids[:, index] = column`, as a scatter (see `_write_cache`)."""
    rows = ops.arange(ops.shape(token_ids)[0])
    indices = ops.stack([rows, ops.full_like(rows, index)], axis=-1)
    return ops.scatter_update(token_ids, indices, column)
