"""Keras layers that tfzoo's models are built from."""

from tfzoo.layers.cross_attention import CrossAttention
from tfzoo.layers.self_attention import SelfAttention
from tfzoo.layers.fast_dropout import FastDropout
from tfzoo.layers.positional_embedding import PositionalEmbedding
from tfzoo.layers.transformer_block import TransformerBlock, gelu_approximate
from tfzoo.layers.transformer_decoder_block import TransformerDecoderBlock

__all__ = [
    "CrossAttention",
    "SelfAttention",
    "FastDropout",
    "PositionalEmbedding",
    "TransformerBlock",
    "TransformerDecoderBlock",
    "gelu_approximate",
]
