"""Strings in, strings out: tokenizer, translation model and decoder in one
graph.

`Translator` is what `tfzoo.translate` runs and what `tfzoo export` saves
for a translation run, so the SavedModel computes exactly what the library
does. Its `translate` function is the TF Serving signature:

    translate(source, beam_width=1, max_new_tokens=max_sequence_length)
        -> {"translation"}

It never fails on odd input; it clamps instead (see `_translate`).
"""

import numpy as np
import tensorflow as tf

from tfzoo.decoding.seq2seq_decoder import Seq2SeqDecoder
from tfzoo.serving.signatures import serving_function
from tfzoo.serving.warmup import text_batches

MAX_BEAM_WIDTH = 8  # the signature's beam_width is clamped to [1, this]
DEFAULT_LENGTH_PENALTY = 0.6  # GNMT's alpha (Wu et al., 2016)
# Sources are padded to a multiple of this many tokens, so that the
# compiled loop meets a few shapes only.
_SOURCE_WIDTH_STEP = 16


def special_token_ids(tokenizer):
    """`(bos_id, eos_id, pad_id)` of a translation run's SentencePiece
    tokenizer (`<s>`, `</s>`, `<pad>`)."""
    return tuple(int(tokenizer.token_to_id(token))
                 for token in ("<s>", "</s>", "<pad>"))


class Translator(tf.Module):
    """A translation model and its tokenizer behind one string function.

    Args:
        model: a `TransformerSeq2Seq` or `LSTMSeq2Seq`.
        tokenizer: its keras-hub `SentencePieceTokenizer` (with `<s>`,
            `</s>` and `<pad>`).
        use_cache: bool. `False` re-runs the model over the whole source
            and target at every step (for comparison only).
        jit_compile: bool. Compile the decoding loops with XLA (TF Serving
            on CPU then needs `--xla_cpu_compilation_enabled=true`).

    Example:
    >>> translator = Translator(model, tokenizer)
    >>> translator.translate(tf.constant(["File not found"]),
    ...                      beam_width=tf.constant(4))["translation"]
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'Datei ...'])>
    """

    def __init__(self, model, tokenizer, use_cache=True, jit_compile=True):
        super().__init__(name="translator")
        self.model = model
        self.tokenizer = tokenizer
        self.max_sequence_length = int(model.max_sequence_length)
        self.jit_compile = bool(jit_compile)
        self.bos_id, self.eos_id, self.pad_id = special_token_ids(tokenizer)
        self.decoder = Seq2SeqDecoder(model, self.bos_id, self.eos_id,
                                      self.pad_id, use_cache, jit_compile)
        # For Python callers: one graph per beam width (a Python int).
        self.translate_ids_function = tf.function(self.translate_ids,
                                                  reduce_retracing=True)
        self.decode_tokens_function = tf.function(self.decode_tokens,
                                                  reduce_retracing=True)

        # Tensor defaults become the SignatureDef's defaults.
        def translate(source, beam_width=tf.constant(1),
                      max_new_tokens=tf.constant(self.max_sequence_length)):
            return {"translation": self._translate(
                source, beam_width, max_new_tokens)}

        self.translate = serving_function(translate, [
            tf.TensorSpec([None], tf.string, name="source"),
            tf.TensorSpec([], tf.int32, name="beam_width"),
            tf.TensorSpec([], tf.int32, name="max_new_tokens"),
        ])

    def signatures(self):
        """The functions to save, by signature name."""
        return {"serving_default": self.translate}

    @staticmethod
    def warmup_inputs():
        """The warm-up calls (see `tfzoo.serving.warmup`): greedy on one
        sentence, beam search of 4 on four."""
        return [("serving_default", {"source": batch,
                                     "beam_width": np.int32(width),
                                     "max_new_tokens": np.int32(16)})
                for batch, width in zip(text_batches(), (1, 4))]

    def encode_sources(self, source):
        """`(encoder_token_ids, encoder_padding_mask)` of a batch of
        strings: `x [EOS]`, `x` cut to `max_sequence_length - 1` tokens
        (invalid UTF-8 bytes become U+FFFD first), padded to a multiple of
        16 tokens."""
        source = tf.strings.unicode_transcode(source, "UTF-8", "UTF-8",
                                              errors="replace")
        ids = tf.cast(self.tokenizer.tokenize(source), tf.int32)
        ids = ids[:, :self.max_sequence_length - 1]
        eos = tf.fill([tf.shape(source)[0], 1], self.eos_id)
        ids = tf.concat([ids, tf.RaggedTensor.from_tensor(eos)], axis=1)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        longest = tf.maximum(tf.reduce_max(lengths), 1)
        width = tf.minimum(
            -(-longest // _SOURCE_WIDTH_STEP) * _SOURCE_WIDTH_STEP,
            self.max_sequence_length)
        token_ids = ids.to_tensor(self.pad_id,
                                  shape=[tf.shape(source)[0], width])
        mask = tf.sequence_mask(lengths, width, tf.int32)
        return token_ids, mask

    def decode_tokens(self, tokens):
        """Strings from decoder outputs, each cut before its `[EOS]`."""
        keep = tf.cumsum(tf.cast(
            (tokens == self.eos_id) | (tokens == self.pad_id), tf.int32),
            axis=1) == 0
        return self.tokenizer.detokenize(tf.ragged.boolean_mask(tokens, keep))

    def translate_ids(self, source, beam_width=1, max_new_tokens=None,
                      temperature=0.0, top_k=0, top_p=1.0, seed=(0, 0),
                      length_penalty=DEFAULT_LENGTH_PENALTY):
        """Decoder output tokens `(batch, max_sequence_length)` of a batch
        of strings (`beam_width` a Python int; 1 samples, or is greedy
        with `temperature <= 0`). Runs in a graph only (the tokenizer
        returns Python lists when eager): call `translate_ids_function`
        from Python."""
        token_ids, mask = self.encode_sources(source)
        if max_new_tokens is None:
            max_new_tokens = self.max_sequence_length
        if beam_width == 1:
            return self.decoder.sample(token_ids, mask, max_new_tokens,
                                       temperature, top_k, top_p, seed)
        return self.decoder.beam_search(token_ids, mask, max_new_tokens,
                                        beam_width, length_penalty)

    def _translate(self, source, beam_width, max_new_tokens):
        """See the module docstring. Clamping rules: `beam_width` to
        `[1, MAX_BEAM_WIDTH]` (1: greedy), `max_new_tokens` to
        `[1, max_sequence_length]` (and `<= 0` gives empty strings); a
        source longer than `max_sequence_length - 1` tokens keeps its
        first ones; an empty source gives an empty translation; invalid
        UTF-8 bytes read as U+FFFD; a batch of 0 gives 0 strings."""
        beam_width = tf.clip_by_value(beam_width, 1, MAX_BEAM_WIDTH)
        branches = [
            (lambda width=width: self.translate_ids(
                source, width, max_new_tokens))
            for width in range(1, MAX_BEAM_WIDTH + 1)
        ]
        tokens = tf.switch_case(beam_width - 1, branches)
        text = self.decode_tokens(tokens)
        empty = (tf.strings.length(source) == 0) | (max_new_tokens <= 0)
        return tf.where(empty, "", text)
