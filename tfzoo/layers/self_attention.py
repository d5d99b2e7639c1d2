"""Multi-head self-attention, causal or bidirectional, with a KV cache."""

import keras
import keras_hub
from keras import ops

from tfzoo.layers.fast_dropout import FastDropout


@keras.saving.register_keras_serializable(package="tfzoo")
class SelfAttention(keras.layers.Layer):
    """Multi-head self-attention (Vaswani et al., 2017, section 3.2), causal
    (a decoder's masked self-attention) or bidirectional (an encoder's), with
    a key/value cache.

    One `Dense` layer projects the input to queries, keys and values at once
    (the "fused QKV" projection of GPT-2 and nanoGPT), and
    `keras.ops.dot_product_attention` mixes the values.

    With `causal=True` position `t` attends to positions `<= t` only (GPT);
    with `causal=False` every position attends to every other (BERT). A
    `padding_mask` of shape `(batch, length)` (1 or True for real tokens)
    further hides padded keys.

    The cache path serves step-by-step decoding: pass `cache`, a tensor of
    shape `(batch, 2, max_sequence_length, num_heads, head_dim)` holding the
    keys (`cache[:, 0]`) and values (`cache[:, 1]`) of earlier positions, and
    `cache_index`, the position of the first element of `inputs`. The layer
    writes the new keys and values into the cache at `cache_index`, attends
    over every position up to the query's own, and returns
    `(outputs, updated_cache)`.

    With `rotary=True` the queries and keys are rotated by their position
    (rotary position embeddings, Su et al., 2021, through keras-hub's
    `RotaryEmbedding`), so attention sees relative positions and the model
    needs no position table. Cached keys are stored already rotated.

    Args:
        num_heads: int. Number of attention heads; must divide the width.
        causal: bool. Whether to hide future positions: `True` for a
            decoder (GPT), `False` for the bidirectional attention of an
            encoder (BERT). No default: every caller says which.
        dropout: float. Dropout rate on the output projection.
        rotary: bool. Whether to apply rotary position embeddings to the
            queries and keys.
        use_bias: bool. Whether the projections have biases.
        kernel_initializer: initializer of the projection kernels.
        **kwargs: standard `keras.layers.Layer` arguments.

    Raises:
        ValueError: the width is not a multiple of `num_heads`; `rotary`
            with an odd head size; a `cache` without `causal=True` or
            without `cache_index`.

    Example:
    >>> x = keras.random.normal((2, 8, 32))
    >>> attention = SelfAttention(num_heads=4, causal=True)
    >>> attention(x).shape
    (2, 8, 32)
    >>> cache = keras.ops.zeros((2, 2, 16, 4, 8))
    >>> y, cache = attention(x[:, :1], cache=cache, cache_index=0)
    >>> y.shape, cache.shape
    ((2, 1, 32), (2, 2, 16, 4, 8))
    """

    def __init__(
        self,
        num_heads,
        causal,
        dropout=0.0,
        rotary=False,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.causal = bool(causal)
        self.rotary = bool(rotary)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        self.head_dim = head_size(hidden_dim, self.num_heads)
        self.qkv = keras.layers.Dense(
            3 * hidden_dim,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="qkv",
        )
        self.qkv.build(inputs_shape)
        self.output_dense = keras.layers.Dense(
            hidden_dim,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="output",
        )
        self.output_dense.build(inputs_shape)
        self.output_dropout = FastDropout(
            self.dropout, dtype=self.dtype_policy
        )
        if self.rotary:
            if self.head_dim % 2:
                raise ValueError(
                    f"rotary=True needs an even head size, got "
                    f"{self.head_dim}."
                )
            self.rotary_embedding = keras_hub.layers.RotaryEmbedding(
                dtype=self.dtype_policy, name="rotary_embedding"
            )
        self.built = True

    def _queries_keys_values(self, inputs, start_index=0):
        """Projects `inputs` to `(batch, length, heads, head_dim)` queries,
        keys and values; rotates the first two by position if `rotary`."""
        batch, length = ops.shape(inputs)[0], ops.shape(inputs)[1]
        # Heads 0..H-1 are the queries, H..2H-1 the keys, 2H..3H-1 the
        # values, so one rotation serves the queries and keys together.
        heads = ops.reshape(self.qkv(inputs), (
            batch, length, 3 * self.num_heads, self.head_dim))
        query_key, value = ops.split(heads, [2 * self.num_heads], axis=2)
        if self.rotary:
            query_key = self.rotary_embedding(query_key,
                                              start_index=start_index)
        query, key = ops.split(query_key, 2, axis=2)
        return query, key, value

    def call(
        self,
        inputs,
        padding_mask=None,
        cache=None,
        cache_index=None,
        training=None,
    ):
        query, key, value = self._queries_keys_values(
            inputs, 0 if cache is None else cache_index
        )
        if cache is None:
            mask = None
            if padding_mask is not None:
                mask = ops.cast(padding_mask, "bool")[:, None, None, :]
            outputs = ops.dot_product_attention(
                query, key, value, mask=mask, is_causal=self.causal
            )
        else:
            if not self.causal:
                raise ValueError("The key/value cache needs causal=True.")
            if cache_index is None:
                raise ValueError("Pass cache_index together with cache.")
            cache = _write_cache(
                cache, ops.stack([key, value], axis=1), cache_index
            )
            key, value = cache[:, 0], cache[:, 1]
            # Query i (at position cache_index + i) sees keys at positions
            # <= cache_index + i; later cache slots are empty or stale.
            query_positions = cache_index + ops.arange(ops.shape(query)[1])
            key_positions = ops.arange(ops.shape(key)[1])
            mask = key_positions[None, :] <= query_positions[:, None]
            mask = mask[None, None, :, :]
            if padding_mask is not None:
                padding = ops.cast(padding_mask, "bool")[:, None, None, :]
                mask = ops.logical_and(mask, padding)
            outputs = ops.dot_product_attention(
                query, ops.cast(key, query.dtype), ops.cast(value, query.dtype),
                mask=mask,
            )

        batch, length = ops.shape(inputs)[0], ops.shape(inputs)[1]
        outputs = ops.reshape(outputs, (batch, length, -1))
        outputs = self.output_dropout(
            self.output_dense(outputs), training=training
        )
        if cache is None:
            return outputs
        return outputs, cache

    def attention_weights(self, inputs, padding_mask=None):
        """The attention weights of `call`: which keys each query reads.

        `call` never forms them (the fused `dot_product_attention` does not
        return them); this computes them the textbook way,
        `softmax(Q K^T / sqrt(head_dim))` with the same masks, to inspect
        or plot.

        Returns:
            float tensor `(batch, num_heads, length, length)`: row `i` of
            head `h` holds query `i`'s weights over the keys (summing to 1).
        """
        if not self.built:
            self.build(tuple(inputs.shape))
        query, key, _ = self._queries_keys_values(inputs)
        query = ops.transpose(query, (0, 2, 1, 3))
        key = ops.transpose(key, (0, 2, 3, 1))
        scores = ops.matmul(query, key) / ops.sqrt(
            ops.cast(self.head_dim, query.dtype))
        length = ops.shape(inputs)[1]
        mask = ops.ones((length, length), "bool")[None, None]
        if self.causal:
            mask = ops.logical_and(mask, ops.tril(mask))
        if padding_mask is not None:
            mask = ops.logical_and(
                mask, ops.cast(padding_mask, "bool")[:, None, None, :])
        scores = ops.where(mask, ops.cast(scores, "float32"), -1e9)
        return ops.softmax(scores, axis=-1)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "causal": self.causal,
                "rotary": self.rotary,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config


# Until this change the layer was `CausalSelfAttention`: `.keras` files
# saved then name it so, always with an explicit `causal`.
keras.saving.get_custom_objects()["tfzoo>CausalSelfAttention"] = SelfAttention


def head_size(hidden_dim, num_heads):
    """The width of each head: `hidden_dim // num_heads`.

    Raises:
        ValueError: `hidden_dim` is not a multiple of `num_heads`.
    """
    if hidden_dim % num_heads:
        raise ValueError(f"The width ({hidden_dim}) must be a multiple of "
                         f"num_heads ({num_heads}).")
    return hidden_dim // num_heads


def _write_cache(cache, new, index):
    """Writes `new`, `(batch, 2, length, heads, head_dim)`, into `cache` at
    positions `index, ..., index + length - 1`.

    A scatter rather than `ops.slice_update`: in TensorFlow the latter is an
    XLA-only op, which TF Serving's CPU build cannot run without XLA, while
    a scatter is an ordinary op that XLA still updates in place.
    """
    batch, length = ops.shape(new)[0], ops.shape(new)[2]
    grid = (batch, 2, length)
    batch_index = ops.broadcast_to(ops.arange(batch)[:, None, None], grid)
    key_or_value = ops.broadcast_to(ops.arange(2)[None, :, None], grid)
    position = ops.broadcast_to(
        (ops.arange(length) + ops.cast(index, "int32"))[None, None, :], grid
    )
    indices = ops.stack([batch_index, key_or_value, position], axis=-1)
    return ops.scatter_update(cache, indices, ops.cast(new, cache.dtype))
