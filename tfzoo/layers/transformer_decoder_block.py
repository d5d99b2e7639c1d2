"""A Transformer decoder block: causal self-attention, cross-attention, MLP."""

import keras

from tfzoo.layers.cross_attention import CrossAttention
from tfzoo.layers.transformer_block import TransformerBlock


@keras.saving.register_keras_serializable(package="tfzoo")
class TransformerDecoderBlock(TransformerBlock):
    """The decoder block of the original Transformer (Vaswani et al., 2017,
    section 3.1): a `TransformerBlock` (causal self-attention and MLP) with
    attention over the encoder's outputs between the two.

    Pre-LayerNorm (the default, as in most Transformers since) computes

        x = x + self_attention(norm_1(x))
        x = x + cross_attention(norm_2(x), encoder_outputs)
        x = x + mlp(norm_3(x))

    and post-LayerNorm (`norm_first=False`, the paper's) normalizes after
    each residual sum instead: `x = norm(x + sublayer(x))`.

    Args:
        num_heads: int. Attention heads, in both attentions.
        intermediate_dim: int. Width of the MLP's hidden layer.
        dropout: float. Dropout rate after each sublayer.
        norm_first: bool. Pre-LayerNorm if `True` (default).
        activation: activation of the MLP (default `"relu"`, the paper's).
        layer_norm_epsilon, use_bias, kernel_initializer: as in
            `TransformerBlock`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float `(batch, target_length, width)`.
        encoder_outputs: float `(batch, source_length, width)`; or leave it
            out and pass `cross_key_value` (see `CrossAttention.key_value`).
        encoder_padding_mask: `(batch, source_length)`, 1 for real tokens.
        cache, cache_index: the self-attention's key/value cache (see
            `SelfAttention`); when given, the block returns
            `(outputs, updated_cache)`.
        cross_key_value: the cross-attention's keys and values,
            `(batch, 2, source_length, num_heads, head_dim)`.

    Example:
    >>> block = TransformerDecoderBlock(num_heads=4, intermediate_dim=128)
    >>> target = keras.random.normal((2, 5, 32))
    >>> source = keras.random.normal((2, 7, 32))
    >>> block(target, source).shape
    (2, 5, 32)
    """

    def __init__(self, num_heads, intermediate_dim, dropout=0.0,
                 norm_first=True, activation="relu", **kwargs):
        kwargs.pop("causal", None)  # always causal
        kwargs.pop("rotary", None)
        super().__init__(num_heads=num_heads,
                         intermediate_dim=intermediate_dim, dropout=dropout,
                         causal=True, norm_first=norm_first,
                         activation=activation, **kwargs)

    def build(self, inputs_shape, encoder_outputs_shape=None):
        super().build(inputs_shape)
        self.cross_attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy,
            name="cross_attention_norm")
        self.cross_attention_norm.build(inputs_shape)
        self.cross_attention = CrossAttention(
            num_heads=self.num_heads, dropout=self.dropout,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy, name="cross_attention")
        self.cross_attention.build(inputs_shape,
                                   encoder_outputs_shape or inputs_shape)
        self.built = True

    def call(self, inputs, encoder_outputs=None, encoder_padding_mask=None,
             cache=None, cache_index=None, cross_key_value=None,
             training=None):
        def attend(x):
            if cache is None:
                return self.attention(x, training=training), None
            return self.attention(x, cache=cache, cache_index=cache_index,
                                  training=training)

        def cross_attend(x):
            return self.cross_attention(
                x, encoder_outputs, encoder_padding_mask,
                key_value=cross_key_value, training=training)

        x = inputs
        if self.norm_first:
            attended, new_cache = attend(self.attention_norm(x))
            x = x + attended
            x = x + cross_attend(self.cross_attention_norm(x))
            x = x + self._mlp(self.mlp_norm(x), training)
        else:
            attended, new_cache = attend(x)
            x = self.attention_norm(x + attended)
            x = self.cross_attention_norm(x + cross_attend(x))
            x = self.mlp_norm(x + self._mlp(x, training))
        if cache is None:
            return x
        return x, new_cache

    def cross_attention_weights(self, inputs, encoder_outputs,
                                encoder_padding_mask=None):
        """This block's cross-attention weights, `(batch, num_heads,
        target_length, source_length)`, given the block's `inputs`
        (see `CrossAttention.attention_weights`)."""
        x = inputs
        if self.norm_first:
            x = x + self.attention(self.attention_norm(x))
            x = self.cross_attention_norm(x)
        else:
            x = self.attention_norm(x + self.attention(x))
        return self.cross_attention.attention_weights(
            x, encoder_outputs, encoder_padding_mask)

    def get_config(self):
        config = super().get_config()
        del config["causal"], config["rotary"]
        return config
