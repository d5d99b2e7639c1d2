"""Position embeddings, learned or sinusoidal."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfzoo")
class PositionalEmbedding(keras.layers.Layer):
    """Embeds positions `start_index, start_index + 1, ...` of a sequence.

    The layer takes a sequence of vectors, usually token embeddings of shape
    `(batch, length, hidden_dim)`, and returns position embeddings of the same
    shape, to be added to it. It holds no token vocabulary of its own.

    Args:
        sequence_length: int. The longest sequence (context) the layer embeds.
        kind: `"learned"` (default), a trainable table of
            `sequence_length` vectors, or `"sinusoidal"`, the fixed sines and
            cosines of "Attention Is All You Need", with no weights.
        initializer: initializer of the learned table.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: tensor of shape `(batch, length, hidden_dim)`.
        start_index: int or scalar tensor. Position of the first element of
            `inputs`; used when decoding one step at a time. Defaults to 0.

    Example:
    >>> tokens = keras.ops.zeros((2, 10, 16))
    >>> PositionalEmbedding(sequence_length=64)(tokens).shape
    (2, 10, 16)
    """

    def __init__(
        self,
        sequence_length,
        kind="learned",
        initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if kind not in ("learned", "sinusoidal"):
            raise ValueError(
                f"kind must be 'learned' or 'sinusoidal', got {kind!r}"
            )
        self.sequence_length = int(sequence_length)
        self.kind = kind
        self.initializer = keras.initializers.get(initializer)

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        if self.kind == "learned":
            self.embeddings = self.add_weight(
                name="embeddings",
                shape=(self.sequence_length, hidden_dim),
                initializer=self.initializer,
            )
        else:
            self.embeddings = self._sinusoids(self.sequence_length, hidden_dim)
        self.built = True

    @staticmethod
    def _sinusoids(length, dim):
        position = ops.arange(length, dtype="float32")[:, None]
        rate = ops.exp(
            ops.arange(0, dim, 2, dtype="float32") * (-math.log(10000.0) / dim)
        )
        angles = position * rate[None, :]  # (length, dim / 2)
        # Interleave: even channels get sin, odd channels get cos.
        table = ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1)
        return ops.reshape(table, (length, -1))[:, :dim]

    def call(self, inputs, start_index=0):
        length = ops.shape(inputs)[1]
        table = ops.cast(self.embeddings, self.compute_dtype)
        positions = ops.slice(
            table, (start_index, 0), (length, ops.shape(table)[-1])
        )
        return ops.broadcast_to(positions[None], ops.shape(inputs))

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "kind": self.kind,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config
