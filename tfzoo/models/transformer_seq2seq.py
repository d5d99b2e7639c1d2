"""The encoder–decoder Transformer of "Attention Is All You Need"."""

import math

import keras
from keras import ops

from tfzoo.layers import (FastDropout, PositionalEmbedding, TransformerBlock,
                          TransformerDecoderBlock)
from tfzoo.models.base_model import BaseModel


def seq2seq_inputs():
    """The `keras.Input`s of a translation model, a dict of int32
    `(batch, length)` tensors: `encoder_token_ids`,
    `encoder_padding_mask` (1 for real source tokens) and
    `decoder_token_ids`."""
    return {name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("encoder_token_ids", "encoder_padding_mask",
                         "decoder_token_ids")}


@keras.saving.register_keras_serializable(package="tfzoo")
class TransformerSeq2Seq(BaseModel):
    """An encoder–decoder Transformer for translation (Vaswani et al., 2017).

    The source sentence is embedded and read by `num_encoder_layers`
    bidirectional `TransformerBlock`s; the target sentence so far is
    embedded and read by `num_decoder_layers` `TransformerDecoderBlock`s,
    which attend causally to the target and fully to the encoder's outputs;
    a softmax over the vocabulary predicts each next target token.

    Source and target share one subword vocabulary and one embedding table
    (section 3.4: "we share the same weight matrix between the two
    embedding layers and the pre-softmax linear transformation"), scaled by
    `sqrt(hidden_dim)`; with `tie_embeddings` the output layer is that
    table too.

    Inputs, a dict (padding on the right, id 0 or any id where the mask is
    0):

    - `encoder_token_ids`: int32 `(batch, source_length)`.
    - `encoder_padding_mask`: `(batch, source_length)`, 1 for real tokens.
    - `decoder_token_ids`: int32 `(batch, target_length)`, `[BOS] y`
      (teacher forcing).

    Output: float32 logits `(batch, target_length, vocabulary_size)`, the
    prediction of `y [EOS]`. Both lengths may be anything up to
    `max_sequence_length`.

    Args:
        vocabulary_size: int. Number of token ids (source and target).
        max_sequence_length: int. Longest source and longest target, in
            tokens.
        num_encoder_layers, num_decoder_layers: int. Blocks in each half.
        num_heads: int. Attention heads per attention layer.
        hidden_dim: int. Width of the embeddings and blocks (`d_model`).
        intermediate_dim: int. Width of the MLPs (`d_ff`); defaults to
            `4 * hidden_dim`.
        dropout: float. Dropout rate on embeddings and residual branches.
        tie_embeddings: bool. Output layer = transposed embedding table
            (default `True`).
        positional_embedding: `"sinusoidal"` (default, the paper's) or
            `"learned"`.
        norm_first: bool. Pre-LayerNorm blocks (default) with a final
            LayerNorm after each stack, or the paper's post-LayerNorm.
        activation: activation of the MLPs (default `"relu"`, the paper's).
        layer_norm_epsilon: float.
        **kwargs: standard `keras.Model` arguments such as `name`, `dtype`.

    Example:
    >>> model = TransformerSeq2Seq(vocabulary_size=100, max_sequence_length=16,
    ...     num_encoder_layers=2, num_decoder_layers=2, num_heads=4,
    ...     hidden_dim=32)
    >>> model({"encoder_token_ids": keras.ops.ones((2, 7), "int32"),
    ...        "encoder_padding_mask": keras.ops.ones((2, 7), "int32"),
    ...        "decoder_token_ids": keras.ops.ones((2, 5), "int32")}).shape
    (2, 5, 100)
    """

    def __init__(
        self,
        vocabulary_size,
        max_sequence_length,
        num_encoder_layers,
        num_decoder_layers,
        num_heads,
        hidden_dim,
        intermediate_dim=None,
        dropout=0.0,
        tie_embeddings=True,
        positional_embedding="sinusoidal",
        norm_first=True,
        activation="relu",
        layer_norm_epsilon=1e-5,
        dtype=None,
        **kwargs,
    ):
        intermediate_dim = intermediate_dim or 4 * hidden_dim
        if positional_embedding not in ("learned", "sinusoidal"):
            raise ValueError("positional_embedding must be 'learned' or "
                             f"'sinusoidal', got {positional_embedding!r}")

        # === Layers ===
        self.token_embedding = keras.layers.ReversibleEmbedding(
            vocabulary_size, hidden_dim, tie_weights=tie_embeddings,
            embeddings_initializer=keras.initializers.RandomNormal(
                stddev=hidden_dim ** -0.5),
            reverse_dtype="float32", dtype=dtype, name="token_embedding")
        self.encoder_position_embedding = PositionalEmbedding(
            max_sequence_length, kind=positional_embedding, dtype=dtype,
            name="encoder_position_embedding")
        self.decoder_position_embedding = PositionalEmbedding(
            max_sequence_length, kind=positional_embedding, dtype=dtype,
            name="decoder_position_embedding")
        self.embedding_dropout = FastDropout(dropout, dtype=dtype,
                                             name="embedding_dropout")
        block_arguments = dict(
            num_heads=num_heads, intermediate_dim=intermediate_dim,
            dropout=dropout, norm_first=norm_first, activation=activation,
            layer_norm_epsilon=layer_norm_epsilon, dtype=dtype)
        self.encoder_blocks = [
            TransformerBlock(causal=False, name=f"encoder_block_{i}",
                             **block_arguments)
            for i in range(num_encoder_layers)
        ]
        self.decoder_blocks = [
            TransformerDecoderBlock(name=f"decoder_block_{i}",
                                    **block_arguments)
            for i in range(num_decoder_layers)
        ]
        # Pre-LayerNorm stacks end with a LayerNorm; post-LN blocks already
        # end normalized.
        self.encoder_norm = self.decoder_norm = None
        if norm_first:
            self.encoder_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=dtype, name="encoder_norm")
            self.decoder_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=dtype, name="decoder_norm")

        # === Functional Model ===
        inputs = seq2seq_inputs()
        encoder_outputs = self._encode(inputs["encoder_token_ids"],
                                       inputs["encoder_padding_mask"])
        x = self._embed(inputs["decoder_token_ids"],
                        self.decoder_position_embedding)
        for block in self.decoder_blocks:
            x = block(x, encoder_outputs, inputs["encoder_padding_mask"])
        logits = self._logits(x)
        super().__init__(inputs=inputs, outputs=logits, dtype=dtype,
                         **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.max_sequence_length = max_sequence_length
        self.num_encoder_layers = num_encoder_layers
        self.num_decoder_layers = num_decoder_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.tie_embeddings = tie_embeddings
        self.positional_embedding = positional_embedding
        self.norm_first = norm_first
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon

    def _embed(self, token_ids, position_embedding, start_index=0):
        x = self.token_embedding(token_ids) * math.sqrt(
            self.token_embedding.output_dim)
        x = x + position_embedding(x, start_index=start_index)
        return self.embedding_dropout(x)

    def _encode(self, encoder_token_ids, encoder_padding_mask):
        x = self._embed(encoder_token_ids, self.encoder_position_embedding)
        for block in self.encoder_blocks:
            x = block(x, padding_mask=encoder_padding_mask)
        return x if self.encoder_norm is None else self.encoder_norm(x)

    def _logits(self, x):
        if self.decoder_norm is not None:
            x = self.decoder_norm(x)
        return self.token_embedding(x, reverse=True)

    # === Cached decoding ===

    def encode_source(self, encoder_token_ids, encoder_padding_mask):
        """Reads the source once, for a decoding loop.

        Args:
            encoder_token_ids: int32 `(batch, source_length)`.
            encoder_padding_mask: `(batch, source_length)`, 1 for real
                tokens.

        Returns:
            `(state, cache)`. `state` holds what every step reads and never
            changes: each decoder block's cross-attention keys and values
            (computed here, once per sentence) and the source padding mask.
            `cache` is the empty self-attention cache, one tensor
            `(batch, 2, max_sequence_length, num_heads, head_dim)` per
            decoder block, filled as `call_with_cache` goes. Both have the
            batch on their first axis (beam search repeats and reorders it).
        """
        encoder_outputs = self._encode(encoder_token_ids,
                                       encoder_padding_mask)
        cross_key_values = [block.cross_attention.key_value(encoder_outputs)
                            for block in self.decoder_blocks]
        batch = ops.shape(encoder_token_ids)[0]
        head_dim = self.hidden_dim // self.num_heads
        shape = (batch, 2, self.max_sequence_length, self.num_heads,
                 head_dim)
        cache = [ops.zeros(shape, dtype=self.compute_dtype)
                 for _ in self.decoder_blocks]
        return (cross_key_values, encoder_padding_mask), cache

    def call_with_cache(self, token_ids, cache, cache_update_index, state):
        """Runs the decoder on `token_ids` at positions
        `cache_update_index, ...`, attending to the earlier positions in
        `cache` and to the source in `state` (see `encode_source`).

        Returns:
            `(logits, cache)`: float32 `(batch, length, vocabulary_size)`
            and the updated cache.
        """
        cross_key_values, encoder_padding_mask = state
        x = self._embed(token_ids, self.decoder_position_embedding,
                        start_index=cache_update_index)
        new_cache = []
        for block, layer_cache, key_value in zip(
                self.decoder_blocks, cache, cross_key_values):
            x, layer_cache = block(
                x, encoder_padding_mask=encoder_padding_mask,
                cache=layer_cache, cache_index=cache_update_index,
                cross_key_value=key_value)
            new_cache.append(layer_cache)
        return self._logits(x), new_cache

    def cross_attention_weights(self, inputs):
        """Each decoder block's attention over the source, for a heat map.

        Args:
            inputs: the model's input dict.

        Returns:
            A list with one float32 tensor per decoder block, each
            `(batch, num_heads, target_length, source_length)`.
        """
        mask = inputs["encoder_padding_mask"]
        encoder_outputs = self._encode(inputs["encoder_token_ids"], mask)
        x = self._embed(inputs["decoder_token_ids"],
                        self.decoder_position_embedding)
        weights = []
        for block in self.decoder_blocks:
            weights.append(
                block.cross_attention_weights(x, encoder_outputs, mask))
            x = block(x, encoder_outputs, mask)
        return weights
