"""One Transformer block: self-attention and an MLP, each with a residual;
GPT-2/BERT-style or Llama-style."""

import keras

from tfzoo.choices import check_choice
from tfzoo.layers.self_attention import SelfAttention, key_value_heads
from tfzoo.layers.fast_dropout import FastDropout

NORMALIZATIONS = ("layer_norm", "rms_norm")
FEED_FORWARDS = ("mlp", "gated")


@keras.saving.register_keras_serializable(package="tfzoo")
def gelu_approximate(x):
    """GELU with GPT-2's tanh approximation; cheaper than `erf` on a CPU."""
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="tfzoo")
class TransformerBlock(keras.layers.Layer):
    """A Transformer block, causal (GPT) or bidirectional (BERT).

    Pre-LayerNorm (GPT-2, nanoGPT; the default) computes

        x = x + attention(norm_1(x))
        x = x + mlp(norm_2(x))

    and post-LayerNorm (the original Transformer and BERT) computes

        x = norm_1(x + attention(x))
        x = norm_2(x + mlp(x))

    where `mlp` is `Dense(intermediate_dim, activation)`, `Dense(width)` and
    dropout (`feed_forward="mlp"`).

    A Llama block is a pre-norm block with `normalization="rms_norm"`,
    `feed_forward="gated"`, `activation="silu"` (SwiGLU, Shazeer, 2020:
    `mlp_out(silu(mlp_gate(x)) * mlp_in(x))`, Hugging Face's
    `down_proj(act(gate_proj(x)) * up_proj(x))`), `num_key_value_heads`
    (grouped-query attention), `rotary=True` and `use_bias=False`.

    Sublayers (and weight paths under the block): `attention_norm`,
    `attention` (`qkv` and `output`, or with `num_key_value_heads`
    `query`, `key`, `value` and `output`), `mlp_norm`, `mlp_gate` (only
    `feed_forward="gated"`), `mlp_in`, `mlp_out`. A LayerNorm's weights are
    `gamma` and `beta`, an RMSNorm's `scale`.

    Args:
        num_heads: int. Number of attention heads.
        intermediate_dim: int. Width of the MLP's hidden layer, usually four
            times the block's width.
        dropout: float. Dropout rate after the attention and the MLP.
        causal: bool. `True` hides future positions (a language model);
            `False` attends both ways (an encoder).
        rotary: bool. Rotary position embeddings in the attention (see
            `SelfAttention`).
        norm_first: bool. Pre-LayerNorm if `True` (default), post-LayerNorm
            if `False`.
        activation: activation of the MLP's hidden layer, or of its gate
            with `feed_forward="gated"`. Defaults to `"gelu"` (exact, as
            BERT); GPT models use `gelu_approximate`, Llama `"silu"`.
        layer_norm_epsilon: float. Epsilon of both norms, LayerNorm or
            RMSNorm.
        use_bias: bool. Whether the dense layers (every projection) have
            biases.
        kernel_initializer: initializer of the dense kernels.
        normalization: `"layer_norm"` (default): `LayerNormalization`,
            `(x - mean) / sqrt(var + eps) * gamma + beta`; or `"rms_norm"`
            (Zhang and Sennrich, 2019; Llama): `RMSNormalization`,
            `x / sqrt(mean(x^2) + eps) * scale`, computed in float32
            whatever the dtype policy.
        feed_forward: `"mlp"` (default): `mlp_out(activation(mlp_in(x)))`;
            or `"gated"` (GLU variants, Shazeer, 2020):
            `mlp_out(activation(mlp_gate(x)) * mlp_in(x))`, SwiGLU with
            `activation="silu"`.
        num_key_value_heads: int or None. Grouped-query attention (see
            `SelfAttention`); `None` (default) for the classic layout.
        rotary_max_wavelength: float. The rotary base (see
            `SelfAttention`), used with `rotary=True`. Defaults to 10000.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: tensor of shape `(batch, length, width)`.
        padding_mask: optional `(batch, length)` mask, 1 for real tokens.
        cache, cache_index: optional key/value cache of the attention layer
            (see `SelfAttention`); when given, the block returns
            `(outputs, updated_cache)`.

    Returns:
        float tensor `(batch, length, width)` in the compute dtype; with
        `cache`, `(outputs, updated_cache)`.

    Raises:
        ValueError: an unknown `normalization` or `feed_forward`; a
            `num_key_value_heads` that does not divide `num_heads`.

    Example:
    >>> block = TransformerBlock(num_heads=4, intermediate_dim=128)
    >>> block(keras.random.normal((2, 10, 32))).shape
    (2, 10, 32)
    >>> llama = TransformerBlock(
    ...     num_heads=4, intermediate_dim=96, rotary=True,
    ...     activation="silu", use_bias=False, normalization="rms_norm",
    ...     feed_forward="gated", num_key_value_heads=2)
    >>> llama(keras.random.normal((2, 10, 32))).shape
    (2, 10, 32)
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        causal=True,
        rotary=False,
        norm_first=True,
        activation="gelu",
        layer_norm_epsilon=1e-5,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        normalization="layer_norm",
        feed_forward="mlp",
        num_key_value_heads=None,
        rotary_max_wavelength=10000,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_choice("normalization", normalization, NORMALIZATIONS)
        check_choice("feed_forward", feed_forward, FEED_FORWARDS)
        self.num_heads = int(num_heads)
        self.intermediate_dim = int(intermediate_dim)
        self.dropout = float(dropout)
        self.causal = bool(causal)
        self.rotary = bool(rotary)
        self.norm_first = bool(norm_first)
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.normalization = normalization
        self.feed_forward = feed_forward
        self.num_key_value_heads = key_value_heads(self.num_heads,
                                                   num_key_value_heads)
        self.rotary_max_wavelength = float(rotary_max_wavelength)

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        mlp_hidden_shape = tuple(inputs_shape[:-1]) + (self.intermediate_dim,)

        def dense(units, name, activation=None):
            return keras.layers.Dense(
                units,
                activation=activation,
                use_bias=self.use_bias,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name=name,
            )

        def layer_norm(name):
            return norm_layer(self.normalization, self.layer_norm_epsilon,
                              self.dtype_policy, name)

        self.attention_norm = layer_norm("attention_norm")
        self.attention_norm.build(inputs_shape)
        self.attention = SelfAttention(
            num_heads=self.num_heads,
            dropout=self.dropout,
            causal=self.causal,
            rotary=self.rotary,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            num_key_value_heads=self.num_key_value_heads,
            rotary_max_wavelength=self.rotary_max_wavelength,
            dtype=self.dtype_policy,
            name="attention",
        )
        self.attention.build(inputs_shape)
        self.mlp_norm = layer_norm("mlp_norm")
        self.mlp_norm.build(inputs_shape)
        if self.feed_forward == "gated":
            self.mlp_gate = dense(self.intermediate_dim, "mlp_gate",
                                  self.activation)
            self.mlp_gate.build(inputs_shape)
            self.mlp_in = dense(self.intermediate_dim, "mlp_in")
        else:
            self.mlp_in = dense(self.intermediate_dim, "mlp_in",
                                self.activation)
        self.mlp_in.build(inputs_shape)
        self.mlp_out = dense(hidden_dim, "mlp_out")
        self.mlp_out.build(mlp_hidden_shape)
        self.mlp_dropout = FastDropout(
            self.dropout, dtype=self.dtype_policy
        )
        self.built = True

    def _mlp(self, x, training):
        hidden = self.mlp_in(x)
        if self.feed_forward == "gated":
            hidden = self.mlp_gate(x) * hidden
        return self.mlp_dropout(self.mlp_out(hidden), training=training)

    def call(
        self,
        inputs,
        padding_mask=None,
        cache=None,
        cache_index=None,
        training=None,
    ):
        def attend(x):
            """Returns (attention outputs, updated cache or None)."""
            if cache is None:
                outputs = self.attention(
                    x, padding_mask=padding_mask, training=training
                )
                return outputs, None
            return self.attention(
                x,
                padding_mask=padding_mask,
                cache=cache,
                cache_index=cache_index,
                training=training,
            )

        x = inputs
        if self.norm_first:
            attended, new_cache = attend(self.attention_norm(x))
            x = x + attended
            x = x + self._mlp(self.mlp_norm(x), training)
        else:
            attended, new_cache = attend(x)
            x = self.attention_norm(x + attended)
            x = self.mlp_norm(x + self._mlp(x, training))

        if cache is None:
            return x
        return x, new_cache

    def attention_weights(self, inputs, padding_mask=None):
        """The attention weights of this block's attention on `inputs`
        (see `SelfAttention.attention_weights`)."""
        x = self.attention_norm(inputs) if self.norm_first else inputs
        return self.attention.attention_weights(x, padding_mask)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "causal": self.causal,
                "rotary": self.rotary,
                "norm_first": self.norm_first,
                "activation": keras.activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "normalization": self.normalization,
                "feed_forward": self.feed_forward,
                "num_key_value_heads": self.num_key_value_heads,
                "rotary_max_wavelength": self.rotary_max_wavelength,
            }
        )
        return config


def norm_layer(kind, epsilon, dtype, name):
    """A `"layer_norm"` or `"rms_norm"` layer (see `TransformerBlock`).

    Keras' `RMSNormalization` is Hugging Face's `LlamaRMSNorm`: both
    compute `x * rsqrt(mean(x^2) + eps)` in float32 and scale it; Keras
    scales in float32 and rounds once to the compute dtype, Hugging Face
    rounds before scaling (the same in float32).
    """
    if kind == "rms_norm":
        return keras.layers.RMSNormalization(epsilon=epsilon, dtype=dtype,
                                             name=name)
    return keras.layers.LayerNormalization(epsilon=epsilon, dtype=dtype,
                                           name=name)
