"""An LSTM language model, the baseline of the Transformer."""

import keras
from keras import ops
from tfzoo.models.base_model import BaseModel


@keras.saving.register_keras_serializable(package="tfzoo")
class LSTMLM(BaseModel):
    """Embedding, LSTM layer(s) and a Dense layer over the vocabulary.

    The model maps token ids of shape `(batch, length)` to next-token logits
    of shape `(batch, length, vocabulary_size)`, like `TransformerLM`, so the
    two train on the same windows of text.

    Args:
        vocabulary_size: int. Number of token ids.
        max_sequence_length: int. Length of the training windows. An LSTM
            has no limit of its own; this is kept so that data pipelines and
            generation treat both models alike.
        embedding_dim: int. Width of the token embedding.
        hidden_dim: int. Units of each LSTM layer.
        num_layers: int. Number of stacked LSTM layers.
        dropout: float. Dropout rate after the embedding and each LSTM.
        **kwargs: standard `keras.Model` arguments such as `name`.

    Example:
    >>> model = LSTMLM(vocabulary_size=65, max_sequence_length=100)
    >>> model(keras.ops.zeros((2, 100), "int32")).shape
    (2, 100, 65)
    """

    def __init__(
        self,
        vocabulary_size,
        max_sequence_length,
        embedding_dim=128,
        hidden_dim=128,
        num_layers=1,
        dropout=0.0,
        dtype=None,
        **kwargs,
    ):
        # === Layers ===
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, dtype=dtype, name="embedding"
        )
        self.lstm_layers = [
            keras.layers.LSTM(
                hidden_dim,
                return_sequences=True,
                return_state=True,
                dtype=dtype,
                name=f"lstm_{i}",
            )
            for i in range(num_layers)
        ]
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        self.head = keras.layers.Dense(
            vocabulary_size, dtype="float32", name="head"
        )

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        x = self.dropout_layer(self.embedding(token_ids))
        for lstm in self.lstm_layers:
            x, _, _ = lstm(x)  # the sequence; the final states serve decoding
            x = self.dropout_layer(x)
        logits = self.head(x)
        super().__init__(inputs=token_ids, outputs=logits, dtype=dtype, **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.max_sequence_length = max_sequence_length
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.dropout = dropout

    # === Cached decoding ===

    def initial_cache(self, batch_size, max_sequence_length=None):
        """Zero LSTM states, `(batch_size, num_layers, 2, hidden_dim)`.

        An LSTM's whole memory of the prefix is its state `(h, c)`; carrying
        it from call to call plays the part of a Transformer's key/value
        cache. `max_sequence_length` is accepted so both models are called
        alike.
        """
        shape = (batch_size, self.num_layers, 2, self.hidden_dim)
        return ops.zeros(shape, dtype=self.compute_dtype)

    def call_with_cache(self, token_ids, cache, cache_update_index=None):
        """Continues from the states in `cache` over `token_ids`.

        Args:
            token_ids: int tensor `(batch, length)`.
            cache: states from `initial_cache` (or an earlier call).
            cache_update_index: unused; an LSTM's state has no positions.

        Returns:
            `(logits, cache)`: float32 logits `(batch, length, vocabulary)`
            and the states after the last token.
        """
        x = self.embedding(token_ids)
        states = []
        for i, lstm in enumerate(self.lstm_layers):
            x, h, c = lstm(x, initial_state=[cache[:, i, 0], cache[:, i, 1]])
            states.append(ops.stack([h, c], axis=1))
        return self.head(x), ops.stack(states, axis=1)
