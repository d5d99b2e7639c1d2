"""Strings in, strings out: tokenizer, model and decoder in one graph.

`TextGenerator` is what `tfzoo.generate` runs and what `tfzoo export`
saves, so the exported SavedModel computes exactly what the library does.
Its functions are TF Serving signatures:

- `generate(prompt, max_new_tokens, temperature, top_k, top_p, seed)`
  -> `{"text"}`: the continuation of each prompt (without the prompt).
- `score(text)` -> `{"log_likelihood", "token_count"}`.
- `chat(role, content, system, max_new_tokens, ...)` -> `{"reply"}`, for
  pretrained chat models (`chat_format`): each conversation framed by the
  model's chat template in the graph, the assistant's reply generated.

The decoding buffer (and key/value cache) is as wide as the longest
prompt plus the new tokens, rounded up to `BUFFER_STEP`, while that fits
the max sequence length: a model of 8,192 positions answering a short
prompt attends over a few hundred, not 8,192. Past the max sequence
length the window slides (`tfzoo.decoding.decoder`) and the buffer is a
whole number of contexts. Each width compiles once.
"""

import numpy as np
import tensorflow as tf

from tfzoo.decoding import scoring
from tfzoo.decoding.decoder import Decoder
from tfzoo.serving.signatures import serving_function
from tfzoo.serving.warmup import text_batches

DEFAULT_MAX_NEW_TOKENS = 100
BUFFER_STEP = 256  # decoding buffers within the context: a multiple of this
MAX_NEW_TOKENS = 65536  # a request's most (the buffer holds them all)
RANDOM_SEED = -1  # the `seed` input's default: draw a fresh seed per call


class TextGenerator(tf.Module):
    """A language model and its tokenizer behind two string functions.

    Args:
        model: a `TransformerLM` or `LSTMLM`.
        tokenizer: its tokenizer (a `CharTokenizer` or keras-hub
            `SentencePieceTokenizer`).
        use_cache: bool. `False` re-runs the model over the whole text at
            every step (for comparison only).
        jit_compile: bool. Compile the decoding loop with XLA. Faster; TF
            Serving on CPU then needs `--xla_cpu_compilation_enabled=true`.
        end_token_id: int or None. A row stops after generating this id
            (it is left out of the text).
        max_sequence_length: int or None: the longest text (prompt and new
            tokens) served, at most the model's (default: the model's).
        chat_format: a `tfzoo.text.chat_template.ChatFormat`, or None for
            no `chat` signature.

    Example:
    >>> generator = TextGenerator(model, tokenizer)
    >>> generator.generate(tf.constant(["ROMEO:"]), max_new_tokens=20)["text"]
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b' ...'], ...)>
    >>> generator.score(tf.constant(["To be, or not to be"]))
    {'log_likelihood': <tf.Tensor ...>, 'token_count': <tf.Tensor ...>}
    """

    def __init__(self, model, tokenizer, use_cache=True, jit_compile=True,
                 end_token_id=None, max_sequence_length=None,
                 chat_format=None):
        super().__init__(name="text_generator")
        self.model = model
        self.tokenizer = tokenizer
        self.max_sequence_length = min(
            int(max_sequence_length or model.max_sequence_length),
            int(model.max_sequence_length))
        self.end_token_id = -1 if end_token_id is None else int(end_token_id)
        self.jit_compile = bool(jit_compile)
        self._decoder = Decoder(model, use_cache, jit_compile)

        # Tensor defaults become the SignatureDef's defaults, so a TF Serving
        # request may leave these inputs out.
        def generate(
            prompt,
            max_new_tokens=tf.constant(DEFAULT_MAX_NEW_TOKENS),
            temperature=tf.constant(1.0),
            top_k=tf.constant(0),
            top_p=tf.constant(1.0),
            seed=tf.constant(RANDOM_SEED, tf.int64),
        ):
            text = self._generate(
                prompt, max_new_tokens, temperature, top_k, top_p, seed
            )
            return {"text": text}

        self.generate = serving_function(
            generate,
            [
                tf.TensorSpec([None], tf.string, name="prompt"),
                tf.TensorSpec([], tf.int32, name="max_new_tokens"),
                tf.TensorSpec([], tf.float32, name="temperature"),
                tf.TensorSpec([], tf.int32, name="top_k"),
                tf.TensorSpec([], tf.float32, name="top_p"),
                tf.TensorSpec([], tf.int64, name="seed"),
            ],
        )
        self.score = serving_function(
            self._score, [tf.TensorSpec([None], tf.string, name="text")])
        self.chat_format = chat_format
        if chat_format is not None:
            def chat(
                role,
                content,
                system=tf.constant(""),
                max_new_tokens=tf.constant(DEFAULT_MAX_NEW_TOKENS),
                temperature=tf.constant(0.0),
                top_k=tf.constant(0),
                top_p=tf.constant(1.0),
                seed=tf.constant(RANDOM_SEED, tf.int64),
            ):
                systems = tf.fill(tf.shape(role)[:1], system)
                prompt = chat_format.prompt(role, content, systems)
                reply = self._generate(prompt, max_new_tokens, temperature,
                                       top_k, top_p, seed)
                return {"reply": reply}

            self.chat = serving_function(chat, [
                tf.TensorSpec([None, None], tf.string, name="role"),
                tf.TensorSpec([None, None], tf.string, name="content"),
                tf.TensorSpec([], tf.string, name="system"),
                tf.TensorSpec([], tf.int32, name="max_new_tokens"),
                tf.TensorSpec([], tf.float32, name="temperature"),
                tf.TensorSpec([], tf.int32, name="top_k"),
                tf.TensorSpec([], tf.float32, name="top_p"),
                tf.TensorSpec([], tf.int64, name="seed"),
            ])

    def signatures(self):
        """The functions to save, by signature name."""
        functions = {"serving_default": self.generate, "score": self.score}
        if self.chat_format is not None:
            functions["chat"] = self.chat
        return functions

    def warmup_inputs(self):
        """The warm-up calls (see `tfzoo.serving.warmup`): 8 greedy tokens
        and a score, each for batches of 1 and 4 (and a chat turn for
        each, with a chat signature)."""
        options = {"max_new_tokens": np.int32(8),
                   "temperature": np.float32(0.0), "top_k": np.int32(0),
                   "top_p": np.float32(1.0), "seed": np.int64(1)}
        calls = ([("serving_default", {"prompt": batch, **options})
                  for batch in text_batches()]
                 + [("score", {"text": batch}) for batch in text_batches()])
        if self.chat_format is not None:
            calls += [("chat", {
                "role": np.full((len(batch), 1), "user", object),
                "content": batch[:, None], "system": np.array("", object),
                **options}) for batch in text_batches()]
        return calls

    def _token_ids(self, text):
        """Ragged token ids; invalid UTF-8 bytes become U+FFFD first."""
        text = tf.strings.unicode_transcode(
            text, "UTF-8", "UTF-8", errors="replace"
        )
        ids = self.tokenizer.tokenize(text)
        return tf.cast(ids, tf.int32)

    def _generate(self, prompt, max_new_tokens, temperature, top_k, top_p,
                  seed):
        """See the module docstring. Clamping rules:

        - an empty prompt starts from a newline;
        - `max_new_tokens` is clamped to `[1, MAX_NEW_TOKENS]`, and
          `max_new_tokens <= 0` returns empty strings; past the model's
          context each token is predicted from the last
          `max_sequence_length` tokens (a sliding window, as nanoGPT's
          sampler crops its context);
        - a prompt keeps its last `max_sequence_length` tokens (the
          window never reaches further back);
        - `temperature <= 0` is greedy, `top_k <= 0` and `top_p >= 1` turn
          those limits off, `top_p <= 0` keeps only the most likely token;
        - `seed < 0` draws a fresh seed.
        """
        prompt = tf.where(tf.strings.length(prompt) == 0, "\n", prompt)
        new_tokens = tf.clip_by_value(max_new_tokens, 1, MAX_NEW_TOKENS)
        ids = self._token_ids(prompt)[:, -self.max_sequence_length:]
        prompt_lengths = tf.cast(ids.row_lengths(), tf.int32)
        batch = tf.shape(prompt)[0]
        # Within the context, a multiple of BUFFER_STEP (the cache and
        # attention no wider than needed); past it, whole contexts. Either
        # way one compiled loop serves many lengths.
        needed = tf.reduce_max(prompt_lengths) + new_tokens
        width = tf.where(
            needed <= self.max_sequence_length,
            tf.minimum(_round_up(needed, BUFFER_STEP),
                       self.max_sequence_length),
            _round_up(needed, self.max_sequence_length))
        buffer = ids.to_tensor(shape=tf.stack([batch, width]))
        seed = tf.where(
            seed < 0,
            tf.random.uniform([], 0, 2**62, dtype=tf.int64),
            seed,
        )
        tokens, stops = self._decoder(
            buffer,
            prompt_lengths,
            new_tokens,
            temperature,
            top_k,
            top_p,
            _int32_pair(seed),
            self.end_token_id,
        )
        # Keep positions [prompt length, stop) of each row.
        positions = tf.range(width)[None, :]
        keep = ((positions >= prompt_lengths[:, None])
                & (positions < stops[:, None]))
        text = self.tokenizer.detokenize(tf.ragged.boolean_mask(tokens, keep))
        return tf.where(max_new_tokens > 0, text, "")

    def _score(self, text):
        """Sum of `log p(token_t | tokens before t)` for `t >= 1`, over the
        whole text, however long: windows of `max_sequence_length` tokens
        with a stride of half that (`tfzoo.decoding.scoring`).
        `token_count` is the number of tokens scored (every token but the
        first), so `exp(-log_likelihood / token_count)` is the perplexity.
        An empty or one-token text scores 0 over 0 tokens.
        """
        ids = self._token_ids(text)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        log_likelihood, token_count = scoring.log_likelihood(
            self.model, ids.to_tensor(), lengths)
        return {"log_likelihood": log_likelihood, "token_count": token_count}


def _round_up(length, multiple):
    return (length + multiple - 1) // multiple * multiple


def _int32_pair(seed):
    """An int64 seed as two int32 halves (XLA's sampler takes int32)."""
    low = tf.cast(seed % 2**31, tf.int32)
    high = tf.cast((seed // 2**31) % 2**30, tf.int32)
    return tf.stack([low, high])
