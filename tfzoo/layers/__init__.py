"""Keras layers that tfzoo's models are built from."""

from tfzoo.layers.self_attention import SelfAttention
from tfzoo.layers.fast_dropout import FastDropout
from tfzoo.layers.positional_embedding import PositionalEmbedding
from tfzoo.layers.transformer_block import TransformerBlock, gelu_approximate

__all__ = [
    "SelfAttention",
    "FastDropout",
    "PositionalEmbedding",
    "TransformerBlock",
    "gelu_approximate",
]
