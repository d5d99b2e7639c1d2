"""A GPT-style Transformer language model, GPT-2- or Llama-shaped."""

import keras
from keras import ops

from tfzoo.choices import check_choice
from tfzoo.layers import (
    FastDropout,
    PositionalEmbedding,
    TransformerBlock,
    gelu_approximate,
)
from tfzoo.layers.transformer_block import NORMALIZATIONS, norm_layer
from tfzoo.models.base_model import BaseModel

# TransformerLM's feed-forward choices: (TransformerBlock's feed_forward,
# its activation).
FEED_FORWARDS = {"gelu": ("mlp", gelu_approximate),
                 "swiglu": ("gated", "silu")}


@keras.saving.register_keras_serializable(package="tfzoo")
class TransformerLM(BaseModel):
    """GPT: token and position embeddings, causal blocks, a vocabulary head.

    By default as in GPT-2: pre-LayerNorm blocks with a tanh-approximated
    GELU, weights initialized from N(0, 0.02). The options of the modern
    decoder make it a Llama (Touvron et al., 2023; SmolLM2, Llama 2/3):
    `normalization="rms_norm"`, `feed_forward="swiglu"`,
    `num_key_value_heads` (grouped-query attention),
    `positional_embedding="rotary"` with `rotary_max_wavelength` (Hugging
    Face's `rope_theta`) and `use_bias=False`. SmolLM2-135M, for one, is

        TransformerLM(vocabulary_size=49152, max_sequence_length=8192,
                      num_layers=30, num_heads=9, hidden_dim=576,
                      intermediate_dim=1536, positional_embedding="rotary",
                      use_bias=False, normalization="rms_norm",
                      feed_forward="swiglu", num_key_value_heads=3,
                      rotary_max_wavelength=100000)

    (head size 576 / 9 = 64, tied embeddings).

    The model maps token ids of shape `(batch, length)` to next-token logits
    of shape `(batch, length, vocabulary_size)`, in float32 whatever the
    dtype policy. `length` may be anything up to `max_sequence_length`.

    Args:
        vocabulary_size: int. Number of token ids.
        max_sequence_length: int. Longest sequence the model reads.
        num_layers: int. Number of `TransformerBlock`s.
        num_heads: int. Attention heads per block.
        hidden_dim: int. Width of the embeddings and blocks.
        intermediate_dim: int. Width of the MLPs; defaults to
            `4 * hidden_dim`.
        dropout: float. Dropout rate on embeddings and residual branches.
        tie_embeddings: bool. If `True` (default) the output head is the
            transpose of the token embedding (Press and Wolf, 2016).
        positional_embedding: `"learned"` (default) or `"sinusoidal"`: a
            `PositionalEmbedding` added to the token embeddings; or
            `"rotary"`: no position table, every attention layer rotates
            its queries and keys by position instead.
        use_bias: bool. Whether dense layers (every projection) have biases.
        layer_norm_epsilon: float. Epsilon of every norm, LayerNorm or
            RMSNorm (Hugging Face's `layer_norm_epsilon` or `rms_norm_eps`).
        normalization: `"layer_norm"` (default, GPT-2) or `"rms_norm"`
            (Llama): the blocks' norms and the final norm (see
            `TransformerBlock`).
        feed_forward: `"gelu"` (default, GPT-2): `mlp_out(gelu(mlp_in(x)))`
            with GPT-2's tanh GELU; or `"swiglu"` (Llama):
            `mlp_out(silu(mlp_gate(x)) * mlp_in(x))`.
        num_key_value_heads: int or None. Key/value heads of grouped-query
            attention, a divisor of `num_heads`: separate `query`, `key` and
            `value` projections, a cache of this many heads. `None`
            (default): the classic fused `qkv` projection.
        rotary_max_wavelength: float. Base of the rotary position
            embeddings (`positional_embedding="rotary"` only; Hugging
            Face's `rope_theta`). Defaults to 10000.
        **kwargs: standard `keras.Model` arguments such as `name` and `dtype`.

    Raises:
        ValueError: an unknown `positional_embedding`, `normalization` or
            `feed_forward`; a `num_key_value_heads` that does not divide
            `num_heads`; a width that is not a multiple of `num_heads`.

    Example:
    >>> model = TransformerLM(
    ...     vocabulary_size=65, max_sequence_length=64, num_layers=2,
    ...     num_heads=4, hidden_dim=64)
    >>> model(keras.ops.zeros((1, 64), "int32")).shape
    (1, 64, 65)
    >>> llama = TransformerLM(
    ...     vocabulary_size=65, max_sequence_length=64, num_layers=2,
    ...     num_heads=4, hidden_dim=64, intermediate_dim=96,
    ...     positional_embedding="rotary", use_bias=False,
    ...     normalization="rms_norm", feed_forward="swiglu",
    ...     num_key_value_heads=2, rotary_max_wavelength=100000)
    >>> llama(keras.ops.zeros((1, 64), "int32")).shape
    (1, 64, 65)
    >>> llama.initial_cache(batch_size=1, max_sequence_length=64)[0].shape
    (1, 2, 64, 2, 16)
    """

    def __init__(
        self,
        vocabulary_size,
        max_sequence_length,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim=None,
        dropout=0.0,
        tie_embeddings=True,
        positional_embedding="learned",
        use_bias=True,
        layer_norm_epsilon=1e-5,
        normalization="layer_norm",
        feed_forward="gelu",
        num_key_value_heads=None,
        rotary_max_wavelength=10000,
        dtype=None,
        **kwargs,
    ):
        intermediate_dim = intermediate_dim or 4 * hidden_dim
        if positional_embedding not in ("learned", "sinusoidal", "rotary"):
            raise ValueError(
                "positional_embedding must be 'learned', 'sinusoidal' or "
                f"'rotary', got {positional_embedding!r}"
            )
        check_choice("normalization", normalization, NORMALIZATIONS)
        check_choice("feed_forward", feed_forward, tuple(FEED_FORWARDS))
        block_feed_forward, activation = FEED_FORWARDS[feed_forward]
        rotary = positional_embedding == "rotary"
        initializer = keras.initializers.RandomNormal(stddev=0.02)

        # === Layers ===
        self.token_embedding = keras.layers.ReversibleEmbedding(
            vocabulary_size,
            hidden_dim,
            tie_weights=tie_embeddings,
            embeddings_initializer=initializer,
            reverse_dtype="float32",
            dtype=dtype,
            name="token_embedding",
        )
        self.position_embedding = None
        if not rotary:
            self.position_embedding = PositionalEmbedding(
                max_sequence_length,
                kind=positional_embedding,
                initializer=initializer,
                dtype=dtype,
                name="position_embedding",
            )
        self.embedding_dropout = FastDropout(
            dropout, dtype=dtype, name="embedding_dropout"
        )
        self.blocks = [
            TransformerBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                causal=True,
                rotary=rotary,
                norm_first=True,
                activation=activation,
                layer_norm_epsilon=layer_norm_epsilon,
                use_bias=use_bias,
                kernel_initializer=initializer,
                normalization=normalization,
                feed_forward=block_feed_forward,
                num_key_value_heads=num_key_value_heads,
                rotary_max_wavelength=rotary_max_wavelength,
                dtype=dtype,
                name=f"block_{i}",
            )
            for i in range(num_layers)
        ]
        self.final_norm = norm_layer(
            normalization, layer_norm_epsilon, dtype, "final_norm"
        )

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        x = self.embedding_dropout(self._embed(token_ids))
        for block in self.blocks:
            x = block(x)
        x = self.final_norm(x)
        logits = self.token_embedding(x, reverse=True)
        super().__init__(inputs=token_ids, outputs=logits, dtype=dtype, **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.max_sequence_length = max_sequence_length
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.tie_embeddings = tie_embeddings
        self.positional_embedding = positional_embedding
        self.use_bias = use_bias
        self.layer_norm_epsilon = layer_norm_epsilon
        self.normalization = normalization
        self.feed_forward = feed_forward
        self.num_key_value_heads = num_key_value_heads
        self.rotary_max_wavelength = rotary_max_wavelength

    def _embed(self, token_ids, start_index=0):
        """Token embeddings plus, unless rotary, position embeddings."""
        x = self.token_embedding(token_ids)
        if self.position_embedding is None:
            return x
        return x + self.position_embedding(x, start_index=start_index)

    # === Cached decoding ===

    def initial_cache(self, batch_size, max_sequence_length):
        """An empty key/value cache for `call_with_cache`.

        A list with one tensor per block, each of shape
        `(batch_size, 2, max_sequence_length, num_key_value_heads, head_dim)`
        (`num_heads` heads for the classic attention): the keys and values
        of each position seen so far. Separate tensors let each block
        update its own in place, with no copy of the whole cache per step.
        """
        head_dim = self.hidden_dim // self.num_heads
        heads = self.num_key_value_heads or self.num_heads
        shape = (batch_size, 2, max_sequence_length, heads, head_dim)
        return [
            ops.zeros(shape, dtype=self.compute_dtype)
            for _ in range(self.num_layers)
        ]

    def call_with_cache(self, token_ids, cache, cache_update_index):
        """Runs `token_ids` at positions `cache_update_index, ...`.

        The tokens attend to themselves and to the earlier positions held in
        `cache`; their own keys and values are written into it. One call over
        a prompt fills the cache (the "prefill"); then each call over a single
        new token costs one position instead of the whole sequence.

        Args:
            token_ids: int tensor `(batch, length)`.
            cache: the list from `initial_cache` (or an earlier call).
            cache_update_index: int (or scalar tensor), the position of
                `token_ids[:, 0]`.

        Returns:
            `(logits, cache)`: float32 logits `(batch, length, vocabulary)`
            and the updated cache.
        """
        x = self._embed(token_ids, start_index=cache_update_index)
        layer_caches = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block(
                x, cache=cache[i], cache_index=cache_update_index
            )
            layer_caches.append(layer_cache)
        logits = self.token_embedding(self.final_norm(x), reverse=True)
        return logits, layer_caches

    def attention_weights(self, token_ids):
        """Each block's attention weights on `token_ids`, for inspection.

        Returns:
            A list with one float32 tensor per block, each of shape
            `(batch, num_heads, length, length)`; row `i` of a head holds
            how much position `i` reads each position `<= i`.
        """
        x = self._embed(token_ids)
        weights = []
        for block in self.blocks:
            weights.append(block.attention_weights(x))
            x = block(x)
        return weights
