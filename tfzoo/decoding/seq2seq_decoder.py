"""Decoding loops of the translation models: sampling and beam search.

`Seq2SeqDecoder` works on token ids. The source is read once
(`model.encode_source`); then each step feeds the decoder the previous
token and picks the next:

- `sample`: greedy decoding (`temperature <= 0`) or sampling with
  temperature, top-k and top-p (`next_token`, as for language models).
- `beam_search`: keeps the `beam_width` most probable open target
  prefixes of each sentence and the best finished translations (Sutskever
  et al., 2014; Wu et al., 2016 for the length penalty), then returns the
  best finished one.

Every sentence stops at its own `[EOS]`; the loop stops when all have (or
after `max_new_tokens`). With `use_cache=True` a step costs one target
position (`model.call_with_cache`: a Transformer's key/value cache and
cross-attention keys computed once, an LSTM's state). With
`use_cache=False` each step re-runs the whole model over the source and the
target so far: the slow reference the cached path must agree with.
Both loops are written once for both models and compiled with XLA.
"""

import tensorflow as tf
from keras import ops

from tfzoo.decoding.decoder import write_column
from tfzoo.decoding.sampling import next_token


class Seq2SeqDecoder:
    """Translates token ids with a `TransformerSeq2Seq` or `LSTMSeq2Seq`.

    Args:
        model: a model with `max_sequence_length`, `encode_source` and
            `call_with_cache`.
        bos_id, eos_id, pad_id: int, the special token ids.
        use_cache: bool. `False` re-runs the full model at every step.
        jit_compile: bool. Compile the loops with XLA (the encoder, whose
            input width varies, runs without it).

    Example:
    >>> decoder = Seq2SeqDecoder(model, bos_id=1, eos_id=2, pad_id=3)
    >>> tokens = decoder.beam_search(source_ids, source_mask, 20,
    ...                              beam_width=4)
    >>> # Row i: tokens[i] up to its first eos_id (or pad_id).
    """

    def __init__(self, model, bos_id, eos_id, pad_id, use_cache=True,
                 jit_compile=True):
        self.model = model
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.use_cache = use_cache
        self._sample_loop = tf.function(self._sample, jit_compile=jit_compile)
        self._beam_loops = {}
        self._jit_compile = jit_compile

    # === The source, and one step ===

    def _start(self, encoder_token_ids, encoder_padding_mask):
        """`(state, cache)` to decode from (see `model.encode_source`);
        without the cache, `state` is the source and `cache` the buffer of
        decoder inputs so far."""
        if self.use_cache:
            return self.model.encode_source(encoder_token_ids,
                                            encoder_padding_mask)
        batch = ops.shape(encoder_token_ids)[0]
        buffer = ops.full((batch, self.model.max_sequence_length),
                          self.pad_id, "int32")
        return (encoder_token_ids, encoder_padding_mask), buffer

    def _step(self, tokens, index, state, cache):
        """Float32 logits `(batch, vocabulary)` after `tokens` `(batch,)`
        at position `index`, and the updated cache. `[BOS]` and the pad
        id are never predicted (a model may still give them some
        probability)."""
        if self.use_cache:
            logits, cache = self.model.call_with_cache(tokens[:, None], cache,
                                                       index, state)
            logits = logits[:, 0]
        else:
            cache = write_column(cache, tokens, index)
            logits = self.model({"encoder_token_ids": state[0],
                                 "encoder_padding_mask": state[1],
                                 "decoder_token_ids": cache}, training=False)
            logits = ops.take(logits, index, axis=1)
        logits = ops.cast(logits, "float32")
        ids = ops.arange(ops.shape(logits)[-1])
        never = ops.logical_or(ids == self.bos_id, ids == self.pad_id)
        return ops.where(never[None, :], _NEVER, logits), cache

    def _check(self, max_new_tokens):
        return ops.clip(ops.cast(max_new_tokens, "int32"), 1,
                        self.model.max_sequence_length)

    # === Greedy decoding and sampling ===

    def sample(self, encoder_token_ids, encoder_padding_mask, max_new_tokens,
               temperature=0.0, top_k=0, top_p=1.0, seed=(0, 0)):
        """Greedy decoding (`temperature <= 0`) or sampling.

        Args:
            encoder_token_ids: int32 `(batch, source_length)`, `x [EOS]`
                padded on the right.
            encoder_padding_mask: `(batch, source_length)`, 1 for real
                tokens.
            max_new_tokens: int scalar, clamped to
                `[1, max_sequence_length]`.
            temperature, top_k, top_p: see `next_token`.
            seed: int32 `(2,)`; step `i` uses `(seed[0], seed[1] + i)`.

        Returns:
            int32 `(batch, max_sequence_length)`: each row's tokens, its
            `[EOS]` (if reached) and then `pad_id`.
        """
        state, cache = self._start(encoder_token_ids, encoder_padding_mask)
        return self._sample_loop(
            state, cache, self._check(max_new_tokens),
            ops.cast(temperature, "float32"), ops.cast(top_k, "int32"),
            ops.cast(top_p, "float32"), ops.cast(seed, "int32"))

    def _sample(self, state, cache, max_new_tokens, temperature, top_k,
                top_p, seed):
        batch = ops.shape(state[1])[0]
        length = self.model.max_sequence_length
        outputs = ops.full((batch, length), self.pad_id, "int32")
        last = ops.full((batch,), self.bos_id, "int32")
        done = ops.zeros((batch,), "bool")

        def more_to_do(index, last, outputs, cache, done):
            return ops.logical_and(index < max_new_tokens,
                                   ops.logical_not(ops.all(done)))

        def step(index, last, outputs, cache, done):
            logits, cache = self._step(last, index, state, cache)
            token = next_token(logits, temperature, top_k, top_p,
                               ops.stack([seed[0], seed[1] + index]))
            token = ops.where(done, self.pad_id, token)
            outputs = write_column(outputs, token, index)
            done = ops.logical_or(done, token == self.eos_id)
            return index + 1, token, outputs, cache, done

        _, _, outputs, _, _ = ops.while_loop(
            more_to_do, step, (0, last, outputs, cache, done))
        return outputs

    # === Beam search ===

    def beam_search(self, encoder_token_ids, encoder_padding_mask,
                    max_new_tokens, beam_width=4, length_penalty=0.6):
        """The most probable translation that beam search finds.

        Beam search as in tensor2tensor (Vaswani et al., 2017, section 6.1;
        Wu et al., 2016, section 7). Each step extends the `beam_width`
        open prefixes of a sentence ("alive") by every token and keeps:

        - alive: the `beam_width` most probable extensions that do not end
          in `[EOS]`, ranked by total log probability;
        - finished: the `beam_width` best hypotheses ended by `[EOS]` so
          far, ranked by `log p(y | x) / lp(y)`, the length penalty
          `lp(y) = ((5 + |y|) / 6) ** alpha` (`|y|` counting `[EOS]`).

        A sentence is done when it has `beam_width` finished hypotheses
        and no open prefix can still beat the worst of them (its log
        probability only falls, and `lp` is largest at `max_new_tokens`);
        the loop ends when every sentence is done, or after
        `max_new_tokens`. The answer is the best finished hypothesis (or,
        if none finished, the best open one). `alpha = 0` ranks by
        probability alone; larger `alpha` favours longer translations.

        Beam width 1 is greedy decoding (`sample` with temperature 0), as
        users expect of `--beam-width 1`. (The search above with one beam
        would differ: it keeps the best hypothesis that ended on the way
        even when the greedy path goes on.)

        Args:
            encoder_token_ids, encoder_padding_mask, max_new_tokens: as in
                `sample`.
            beam_width: int (a Python int: it sets the tensors' shapes).
            length_penalty: float, `alpha`, at least 0 (the stop rule
                assumes it).

        Returns:
            int32 `(batch, max_sequence_length)`, as `sample`.

        Raises:
            ValueError: `beam_width < 1`.
        """
        beam_width = int(beam_width)
        if beam_width < 1:
            raise ValueError(f"beam_width must be at least 1, got "
                             f"{beam_width}")
        if beam_width == 1:
            return self.sample(encoder_token_ids, encoder_padding_mask,
                               max_new_tokens)
        state, cache = self._start(encoder_token_ids, encoder_padding_mask)
        if beam_width not in self._beam_loops:
            self._beam_loops[beam_width] = tf.function(
                lambda *args: self._beam(*args, beam_width=beam_width),
                jit_compile=self._jit_compile)
        return self._beam_loops[beam_width](
            state, cache, self._check(max_new_tokens),
            ops.cast(length_penalty, "float32"))

    def _beam(self, state, cache, max_new_tokens, length_penalty,
              beam_width):
        batch = ops.shape(state[1])[0]
        length = self.model.max_sequence_length
        beams = beam_width

        def penalty(length):
            return ops.power((5.0 + ops.cast(length, "float32")) / 6.0,
                             length_penalty)

        # Every sentence's state and cache repeated once per beam: row
        # b * beams + k is beam k of sentence b.
        def repeat(tensor):
            return ops.repeat(tensor, beams, axis=0)

        state = tf.nest.map_structure(repeat, state)
        cache = tf.nest.map_structure(repeat, cache)
        alive = ops.full((batch, beams, length), self.pad_id, "int32")
        # All beams start the same; only beam 0 may extend at first.
        alive_scores = ops.tile(ops.concatenate([
            ops.zeros((1, 1)), ops.full((1, beams - 1), _NEVER)], axis=1),
            (batch, 1))
        finished = ops.full((batch, beams, length), self.pad_id, "int32")
        finished_scores = ops.full((batch, beams), _NEVER)

        def more_to_do(index, alive, alive_scores, finished, finished_scores,
                       cache):
            # The best an open prefix could still reach, against the worst
            # finished hypothesis kept.
            best_open = alive_scores[:, 0] / penalty(max_new_tokens)
            worst_finished = ops.min(finished_scores, axis=1)
            open_can_win = ops.any(best_open > worst_finished)
            return ops.logical_and(index < max_new_tokens, open_can_win)

        def step(index, alive, alive_scores, finished, finished_scores,
                 cache):
            last = ops.where(index == 0, self.bos_id, ops.reshape(
                ops.take(alive, ops.maximum(index - 1, 0), axis=2), (-1,)))
            logits, cache = self._step(last, index, state, cache)
            log_probabilities = ops.reshape(ops.log_softmax(logits, axis=-1),
                                            (batch, beams, -1))
            vocabulary_size = ops.shape(log_probabilities)[-1]
            candidates = ops.reshape(
                alive_scores[:, :, None] + log_probabilities, (batch, -1))
            # 2 * beams candidates: at least `beams` of them do not end.
            scores, best = ops.top_k(candidates, k=2 * beams)
            beam = best // vocabulary_size
            token = ops.cast(best % vocabulary_size, "int32")
            sequences = _write_step(
                ops.take_along_axis(alive, beam[:, :, None], axis=1), token,
                index)
            ends = token == self.eos_id

            # Alive: the best `beams` candidates that do not end.
            alive_scores, keep = ops.top_k(ops.where(ends, _NEVER, scores),
                                           k=beams)
            alive = ops.take_along_axis(sequences, keep[:, :, None], axis=1)
            rows = ops.reshape(ops.take_along_axis(beam, keep, axis=1)
                               + ops.arange(batch)[:, None] * beams, (-1,))
            cache = tf.nest.map_structure(
                lambda tensor: ops.take(tensor, rows, axis=0), cache)

            # Finished: the best `beams` of the old and the new ones.
            new_scores = ops.where(ends, scores / penalty(index + 1), _NEVER)
            pool = ops.concatenate([finished, sequences], axis=1)
            pool_scores = ops.concatenate([finished_scores, new_scores],
                                          axis=1)
            finished_scores, keep = ops.top_k(pool_scores, k=beams)
            finished = ops.take_along_axis(pool, keep[:, :, None], axis=1)
            return (index + 1, alive, alive_scores, finished,
                    finished_scores, cache)

        _, alive, alive_scores, finished, finished_scores, _ = (
            ops.while_loop(more_to_do, step,
                           (0, alive, alive_scores, finished,
                            finished_scores, cache)))
        # A sentence with no finished hypothesis returns its best open one.
        none_finished = finished_scores[:, 0] <= _NEVER / 2
        return ops.where(none_finished[:, None], alive[:, 0], finished[:, 0])


# A score no hypothesis reaches (a log probability; -inf would give NaNs
# in the arithmetic of scores).
_NEVER = -1e9


def _write_step(outputs, token, index):
    """`outputs[:, :, index] = token` for `(batch, beams, length)`."""
    batch, beams = ops.shape(outputs)[0], ops.shape(outputs)[1]
    grid = (batch, beams)
    indices = ops.stack([
        ops.broadcast_to(ops.arange(batch)[:, None], grid),
        ops.broadcast_to(ops.arange(beams)[None, :], grid),
        ops.full(grid, index, "int32")], axis=-1)
    return ops.scatter_update(outputs, indices, token)
