"""Keras layers that tfzoo's models are built from."""

from tfzoo.layers.causal_self_attention import CausalSelfAttention
from tfzoo.layers.fast_dropout import FastDropout
from tfzoo.layers.positional_embedding import PositionalEmbedding
from tfzoo.layers.transformer_block import TransformerBlock, gelu_approximate

__all__ = [
    "CausalSelfAttention",
    "FastDropout",
    "PositionalEmbedding",
    "TransformerBlock",
    "gelu_approximate",
]
