"""Multi-head self-attention, causal or bidirectional, with a KV cache;
classic (one fused projection) or grouped-query."""

import keras
import keras_hub
from keras import ops

from tfzoo.layers.fast_dropout import FastDropout


@keras.saving.register_keras_serializable(package="tfzoo")
class SelfAttention(keras.layers.Layer):
    """Multi-head self-attention (Vaswani et al., 2017, section 3.2), causal
    (a decoder's masked self-attention) or bidirectional (an encoder's), with
    a key/value cache.

    Two layouts:

    - Classic (`num_key_value_heads=None`, the default): one `Dense` layer,
      `qkv`, projects the input to queries, keys and values at once (the
      "fused QKV" projection of GPT-2 and nanoGPT), every head has its own
      keys and values, and `keras.ops.dot_product_attention` mixes them.
    - Grouped-query attention (Ainslie et al., 2023; Llama 2/3, SmolLM2):
      with `num_key_value_heads` set, separate `Dense` layers `query`
      (`num_heads * head_dim` units), `key` and `value`
      (`num_key_value_heads * head_dim` units each) project the input, and
      each key/value head serves `num_heads // num_key_value_heads`
      consecutive query heads: query head `h` reads key/value head
      `h // (num_heads // num_key_value_heads)`, as Hugging Face's
      `repeat_kv`. `num_key_value_heads=1` is multi-query attention
      (Shazeer, 2019); `num_key_value_heads=num_heads` is the classic
      attention with separate projections (which LoRA can target one by
      one). The groups are mixed by `einsum`s over a `(key/value head,
      group)` split of the query heads, so the keys and values are never
      copied per query head.

    Either way `output` projects the mixed values back to the width.

    With `causal=True` position `t` attends to positions `<= t` only (GPT);
    with `causal=False` every position attends to every other (BERT). A
    `padding_mask` of shape `(batch, length)` (1 or True for real tokens)
    further hides padded keys.

    The cache path serves step-by-step decoding: pass `cache`, a tensor of
    shape `(batch, 2, max_sequence_length, num_key_value_heads, head_dim)`
    (`num_heads` for the classic layout) holding the
    keys (`cache[:, 0]`) and values (`cache[:, 1]`) of earlier positions, and
    `cache_index`, the position of the first element of `inputs`. The layer
    writes the new keys and values into the cache at `cache_index`, attends
    over every position up to the query's own, and returns
    `(outputs, updated_cache)`.

    With `rotary=True` the queries and keys are rotated by their position
    (rotary position embeddings, Su et al., 2021, through keras-hub's
    `RotaryEmbedding`), so attention sees relative positions and the model
    needs no position table. Cached keys are stored already rotated.
    keras-hub pairs each dimension `i < head_dim / 2` of a head with
    dimension `i + head_dim / 2` (the two halves, Hugging Face's
    `rotate_half` convention, as in its Llama) and turns the pair by
    `position * max_wavelength ** (-2i / head_dim)`; GPT-J's and
    llama.cpp's interleaved pairs `(2i, 2i + 1)` are a permutation of the
    projection rows away.

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
        num_key_value_heads: int or None. Number of key/value heads for
            grouped-query attention; must divide `num_heads`. `None`
            (default): the classic layout, a fused `qkv` projection.
        rotary_max_wavelength: float. The rotary base (Hugging Face's
            `rope_theta`): the longest wavelength of the rotations.
            Defaults to 10000 (RoFormer, GPT-NeoX, Llama 2); SmolLM2 and
            Llama 3 use larger ones.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor `(batch, length, width)`.
        padding_mask: optional `(batch, length)` (the keys' length on the
            cache path: `max_sequence_length`), 1 or True for real tokens.
        cache: optional float tensor `(batch, 2, max_sequence_length,
            key/value heads, head_dim)`.
        cache_index: int or scalar int tensor, the position of
            `inputs[:, 0]`; required with `cache`.
        training: bool, whether dropout is on.

    Returns:
        float tensor `(batch, length, width)` in the layer's compute dtype;
        with `cache`, `(outputs, updated_cache)`.

    Raises:
        ValueError: the width is not a multiple of `num_heads`;
            `num_heads` is not a multiple of `num_key_value_heads`;
            `rotary` with an odd head size; a `cache` without
            `causal=True` or without `cache_index`.

    Example:
    >>> x = keras.random.normal((2, 8, 32))
    >>> attention = SelfAttention(num_heads=4, causal=True)
    >>> attention(x).shape
    (2, 8, 32)
    >>> cache = keras.ops.zeros((2, 2, 16, 4, 8))
    >>> y, cache = attention(x[:, :1], cache=cache, cache_index=0)
    >>> y.shape, cache.shape
    ((2, 1, 32), (2, 2, 16, 4, 8))
    >>> grouped = SelfAttention(num_heads=4, causal=True, rotary=True,
    ...                         num_key_value_heads=2)
    >>> grouped(x).shape
    (2, 8, 32)
    >>> cache = keras.ops.zeros((2, 2, 16, 2, 8))  # 2 key/value heads
    >>> grouped(x[:, :1], cache=cache, cache_index=0)[1].shape
    (2, 2, 16, 2, 8)
    """

    def __init__(
        self,
        num_heads,
        causal,
        dropout=0.0,
        rotary=False,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        num_key_value_heads=None,
        rotary_max_wavelength=10000,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.causal = bool(causal)
        self.rotary = bool(rotary)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.num_key_value_heads = key_value_heads(self.num_heads,
                                                   num_key_value_heads)
        self.rotary_max_wavelength = float(rotary_max_wavelength)

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        self.head_dim = head_size(hidden_dim, self.num_heads)

        def dense(units, name):
            layer = keras.layers.Dense(
                units,
                use_bias=self.use_bias,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name=name,
            )
            layer.build(inputs_shape)
            return layer

        if self.num_key_value_heads is None:
            self.qkv = dense(3 * hidden_dim, "qkv")
        else:
            key_value_dim = self.num_key_value_heads * self.head_dim
            self.query_dense = dense(self.num_heads * self.head_dim, "query")
            self.key_dense = dense(key_value_dim, "key")
            self.value_dense = dense(key_value_dim, "value")
        self.output_dense = dense(hidden_dim, "output")
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
                max_wavelength=self.rotary_max_wavelength,
                dtype=self.dtype_policy,
                name="rotary_embedding",
            )
        self.built = True

    def _queries_keys_values(self, inputs, start_index=0):
        """Projects `inputs` to `(batch, length, heads, head_dim)` queries
        and `(batch, length, key/value heads, head_dim)` keys and values;
        rotates the first two by position if `rotary`."""
        if self.num_key_value_heads is not None:
            return self._grouped_queries_keys_values(inputs, start_index)
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

    def _grouped_queries_keys_values(self, inputs, start_index):
        batch, length = ops.shape(inputs)[0], ops.shape(inputs)[1]

        def heads(dense, num_heads):
            return ops.reshape(dense(inputs), (
                batch, length, num_heads, self.head_dim))

        query = heads(self.query_dense, self.num_heads)
        key = heads(self.key_dense, self.num_key_value_heads)
        value = heads(self.value_dense, self.num_key_value_heads)
        if self.rotary:
            # One rotation for the query and key heads together.
            query_key = self.rotary_embedding(
                ops.concatenate([query, key], axis=2),
                start_index=start_index)
            query, key = ops.split(query_key, [self.num_heads], axis=2)
        return query, key, value

    def _attend(self, query, key, value, mask=None, is_causal=False):
        """Mixes `value` by the attention of `query` on `key`:
        `(batch, length, heads, head_dim)` outputs. `mask` broadcasts to
        `(batch, 1, length, key length)`."""
        if self.num_key_value_heads in (None, self.num_heads):
            return ops.dot_product_attention(
                query, key, value, mask=mask, is_causal=is_causal)
        # Grouped: keras' TensorFlow dot_product_attention repeats the
        # key/value heads (a copy of the whole cache each decoding step)
        # and fails with a single one, so mix each group in place.
        batch, length = ops.shape(query)[0], ops.shape(query)[1]
        groups = self.num_heads // self.num_key_value_heads
        query = ops.reshape(query, (
            batch, length, self.num_key_value_heads, groups, self.head_dim))
        if mask is not None:  # (batch, 1, 1, length, key length)
            mask = ops.expand_dims(mask, 2)
        if is_causal:
            causal = ops.tril(ops.ones((length, ops.shape(key)[1]), "bool"))
            mask = causal if mask is None else ops.logical_and(mask, causal)
        probabilities = self._grouped_probabilities(query, key, mask)
        outputs = ops.einsum("bkgts,bskh->btkgh",
                             ops.cast(probabilities, value.dtype), value)
        return ops.reshape(outputs, (
            batch, length, self.num_heads, self.head_dim))

    def _grouped_probabilities(self, query, key, mask):
        """float32 `softmax(Q K^T / sqrt(head_dim))`, `(batch, key/value
        heads, groups, length, key length)`, of grouped `query`
        `(batch, length, key/value heads, groups, head_dim)` on `key`
        `(batch, key length, key/value heads, head_dim)`; `mask`
        broadcasts to the result's shape."""
        scores = ops.cast(ops.einsum("btkgh,bskh->bkgts", query, key),
                          "float32")
        scores = scores * (1.0 / float(self.head_dim) ** 0.5)
        if mask is not None:
            scores = ops.where(mask, scores, -1e9)
        # The softmax written out: ops.softmax warns about a single key
        # (a one-token prompt without the cache).
        weights = ops.exp(scores - ops.max(scores, axis=-1, keepdims=True))
        return weights / ops.sum(weights, axis=-1, keepdims=True)

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
            outputs = self._attend(
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
            outputs = self._attend(
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
        if self.num_key_value_heads is not None:
            # Query head h reads key head h // groups.
            key = ops.repeat(key, self.num_heads // self.num_key_value_heads,
                             axis=2)
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
                "num_key_value_heads": self.num_key_value_heads,
                "rotary_max_wavelength": self.rotary_max_wavelength,
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


def key_value_heads(num_heads, num_key_value_heads):
    """`num_key_value_heads` as an int, or `None` (the classic layout).

    Raises:
        ValueError: it is not a positive divisor of `num_heads`.
    """
    if num_key_value_heads is None:
        return None
    num_key_value_heads = int(num_key_value_heads)
    if num_key_value_heads < 1 or num_heads % num_key_value_heads:
        raise ValueError(
            f"num_key_value_heads ({num_key_value_heads}) must divide "
            f"num_heads ({num_heads}).")
    return num_key_value_heads


def _write_cache(cache, new, index):
    """Writes `new`, `(batch, 2, length, key/value heads, head_dim)`, into
    `cache` at
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
