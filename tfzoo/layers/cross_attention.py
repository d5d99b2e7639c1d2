"""Multi-head attention over another sequence: a decoder reads its
encoder."""

import keras
from keras import ops

from tfzoo.layers.fast_dropout import FastDropout
from tfzoo.layers.self_attention import head_size


@keras.saving.register_keras_serializable(package="tfzoo")
class CrossAttention(keras.layers.Layer):
    """Encoder–decoder attention (Vaswani et al., 2017, section 3.2.3).

    The queries come from the decoder, the keys and values from the
    encoder's outputs, so each target position reads the whole source
    sentence; padded source positions are hidden by `encoder_padding_mask`.

    The keys and values depend on the source only. A decoding loop computes
    them once per source sentence with `key_value(encoder_outputs)` and
    passes them to every step as `key_value=...`, instead of projecting the
    encoder outputs again at each new target token.

    Args:
        num_heads: int. Number of attention heads; must divide the width.
        dropout: float. Dropout rate on the output projection.
        use_bias: bool. Whether the projections have biases.
        kernel_initializer: initializer of the projection kernels.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float `(batch, target_length, width)`, the decoder's states.
        encoder_outputs: float `(batch, source_length, width)`; or leave it
            out and pass `key_value`.
        encoder_padding_mask: `(batch, source_length)`, 1 or True for real
            source tokens. Optional.
        key_value: float `(batch, 2, source_length, num_heads, head_dim)`,
            from `key_value(encoder_outputs)`.

    Returns:
        float `(batch, target_length, width)`.

    Raises:
        ValueError: the width is not a multiple of `num_heads`; neither
            `encoder_outputs` nor `key_value` is given.

    Example:
    >>> attention = CrossAttention(num_heads=4)
    >>> decoder_states = keras.random.normal((2, 5, 32))
    >>> encoder_outputs = keras.random.normal((2, 7, 32))
    >>> attention(decoder_states, encoder_outputs).shape
    (2, 5, 32)
    """

    def __init__(self, num_heads, dropout=0.0, use_bias=True,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, inputs_shape, encoder_outputs_shape=None):
        hidden_dim = inputs_shape[-1]
        self.head_dim = head_size(hidden_dim, self.num_heads)

        def dense(units, name):
            return keras.layers.Dense(
                units, use_bias=self.use_bias,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy, name=name)

        self.query_dense = dense(hidden_dim, "query")
        self.query_dense.build(inputs_shape)
        # Keys and values in one projection, as SelfAttention's fused QKV.
        self.key_value_dense = dense(2 * hidden_dim, "key_value")
        self.key_value_dense.build(encoder_outputs_shape or inputs_shape)
        self.output_dense = dense(hidden_dim, "output")
        self.output_dense.build(inputs_shape)
        self.output_dropout = FastDropout(self.dropout,
                                          dtype=self.dtype_policy)
        self.built = True

    def key_value(self, encoder_outputs):
        """The keys and values of `encoder_outputs`,
        `(batch, 2, source_length, num_heads, head_dim)`."""
        if not self.built:
            self.build(tuple(encoder_outputs.shape),
                       tuple(encoder_outputs.shape))
        batch, length = ops.shape(encoder_outputs)[0], ops.shape(
            encoder_outputs)[1]
        heads = ops.reshape(self.key_value_dense(encoder_outputs),
                            (batch, length, 2, self.num_heads, self.head_dim))
        return ops.transpose(heads, (0, 2, 1, 3, 4))

    def _query(self, inputs):
        batch, length = ops.shape(inputs)[0], ops.shape(inputs)[1]
        return ops.reshape(self.query_dense(inputs),
                           (batch, length, self.num_heads, self.head_dim))

    def call(self, inputs, encoder_outputs=None, encoder_padding_mask=None,
             key_value=None, training=None):
        if key_value is None:
            if encoder_outputs is None:
                raise ValueError("Pass encoder_outputs or key_value.")
            key_value = self.key_value(encoder_outputs)
        query = self._query(inputs)
        key = ops.cast(key_value[:, 0], query.dtype)
        value = ops.cast(key_value[:, 1], query.dtype)
        mask = None
        if encoder_padding_mask is not None:
            mask = ops.cast(encoder_padding_mask, "bool")[:, None, None, :]
        outputs = ops.dot_product_attention(query, key, value, mask=mask)
        batch, length = ops.shape(inputs)[0], ops.shape(inputs)[1]
        outputs = ops.reshape(outputs, (batch, length, -1))
        return self.output_dropout(self.output_dense(outputs),
                                   training=training)

    def attention_weights(self, inputs, encoder_outputs,
                          encoder_padding_mask=None):
        """Which source positions each target position reads.

        Returns:
            float32 `(batch, num_heads, target_length, source_length)`,
            `softmax(Q K^T / sqrt(head_dim))` with the padding mask; each
            row sums to 1.
        """
        if not self.built:
            self.build(tuple(inputs.shape), tuple(encoder_outputs.shape))
        query = ops.transpose(self._query(inputs), (0, 2, 1, 3))
        key = ops.transpose(self.key_value(encoder_outputs)[:, 0],
                            (0, 2, 3, 1))
        scores = ops.cast(ops.matmul(query, key), "float32") / ops.sqrt(
            float(self.head_dim))
        if encoder_padding_mask is not None:
            mask = ops.cast(encoder_padding_mask, "bool")[:, None, None, :]
            scores = ops.where(mask, scores, -1e9)
        return ops.softmax(scores, axis=-1)

    def compute_output_shape(self, inputs_shape, *args, **kwargs):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer),
        })
        return config
