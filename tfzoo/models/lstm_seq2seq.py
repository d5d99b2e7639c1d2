"""An LSTM encoder–decoder with attention: translation before Transformers."""

import keras
from keras import ops

from tfzoo.models.base_model import BaseModel
from tfzoo.models.transformer_seq2seq import seq2seq_inputs


@keras.saving.register_keras_serializable(package="tfzoo")
class LSTMSeq2Seq(BaseModel):
    """A recurrent encoder–decoder with Luong attention (Luong et al., 2015,
    "global attention" with the `dot` score, section 3.1).

    An LSTM stack reads the source; a second LSTM stack, started from the
    encoder's final states layer by layer (Sutskever et al., 2014), reads
    the target so far. At each target position Keras' `Attention` layer
    mixes the encoder's outputs by their dot product with the decoder's
    output (padded source positions hidden), and
    `tanh(W [decoder output; context])` feeds the softmax over the
    vocabulary. Source and target share one vocabulary and one embedding.

    Inputs and output as `TransformerSeq2Seq`: a dict of
    `encoder_token_ids`, `encoder_padding_mask` and `decoder_token_ids`
    (`[BOS] y`), and float32 logits `(batch, target_length,
    vocabulary_size)` predicting `y [EOS]`.

    Args:
        vocabulary_size: int. Number of token ids.
        max_sequence_length: int. Longest source and target, in tokens (the
            LSTMs take any length; decoding and the data use this).
        embedding_dim: int. Width of the token embeddings.
        hidden_dim: int. Units of every LSTM and of the attention output.
        num_layers: int. LSTM layers in the encoder, and in the decoder.
        dropout: float. Dropout rate on embeddings and between layers.
        **kwargs: standard `keras.Model` arguments such as `name`, `dtype`.

    Example:
    >>> model = LSTMSeq2Seq(vocabulary_size=100, max_sequence_length=16,
    ...                     embedding_dim=32, hidden_dim=32)
    >>> model({"encoder_token_ids": keras.ops.ones((2, 7), "int32"),
    ...        "encoder_padding_mask": keras.ops.ones((2, 7), "int32"),
    ...        "decoder_token_ids": keras.ops.ones((2, 5), "int32")}).shape
    (2, 5, 100)
    """

    def __init__(self, vocabulary_size, max_sequence_length, embedding_dim=256,
                 hidden_dim=256, num_layers=2, dropout=0.0, dtype=None,
                 **kwargs):
        # === Layers ===
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, dtype=dtype,
            name="token_embedding")

        def lstm(name):
            return keras.layers.LSTM(hidden_dim, return_sequences=True,
                                     return_state=True, dtype=dtype,
                                     name=name)

        self.encoder_layers = [lstm(f"encoder_lstm_{i}")
                               for i in range(num_layers)]
        self.decoder_layers = [lstm(f"decoder_lstm_{i}")
                               for i in range(num_layers)]
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=dtype,
                                                  name="dropout")
        self.attention = keras.layers.Attention(score_mode="dot",
                                                dtype=dtype, name="attention")
        self.attention_output = keras.layers.Dense(
            hidden_dim, activation="tanh", dtype=dtype,
            name="attention_output")
        self.head = keras.layers.Dense(vocabulary_size, dtype="float32",
                                       name="head")

        # === Functional Model ===
        inputs = seq2seq_inputs()
        encoder_outputs, states = self._encode(inputs["encoder_token_ids"],
                                               inputs["encoder_padding_mask"])
        logits, _ = self._decode(inputs["decoder_token_ids"], states,
                                 encoder_outputs,
                                 inputs["encoder_padding_mask"])
        super().__init__(inputs=inputs, outputs=logits, dtype=dtype,
                         **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.max_sequence_length = max_sequence_length
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.dropout = dropout

    def _encode(self, token_ids, padding_mask):
        """Encoder outputs `(batch, source_length, hidden_dim)` and each
        layer's final `[h, c]`. Padded positions (on the right) are skipped
        by passing the mask to the LSTMs, so the final states are those
        of each sentence's last real token."""
        mask = ops.cast(padding_mask, "bool")
        x = self.dropout_layer(self.token_embedding(token_ids))
        states = []
        for lstm in self.encoder_layers:
            x, h, c = lstm(x, mask=mask)
            x = self.dropout_layer(x)
            states.append([h, c])
        return x, states

    def _decode(self, token_ids, states, encoder_outputs, padding_mask):
        """Logits of the decoder from `states` (one `[h, c]` per layer), and
        the states after the last token."""
        x = self.dropout_layer(self.token_embedding(token_ids))
        new_states = []
        for lstm, state in zip(self.decoder_layers, states):
            x, h, c = lstm(x, initial_state=state)
            x = self.dropout_layer(x)
            new_states.append([h, c])
        context = self.attention(
            [x, encoder_outputs],
            mask=[None, ops.cast(padding_mask, "bool")])
        x = self.attention_output(ops.concatenate([x, context], axis=-1))
        return self.head(self.dropout_layer(x)), new_states

    # === Cached decoding ===

    def encode_source(self, encoder_token_ids, encoder_padding_mask):
        """Reads the source once, for a decoding loop (the contract of
        `TransformerSeq2Seq.encode_source`).

        Returns:
            `(state, cache)`: `state` is the encoder's outputs and the
            source padding mask (read at every step, never changed);
            `cache`, `(batch, num_layers, 2, hidden_dim)`, the decoder
            LSTMs' `(h, c)`, starting as the encoder's final states.
        """
        encoder_outputs, states = self._encode(encoder_token_ids,
                                               encoder_padding_mask)
        cache = ops.stack([ops.stack(s, axis=1) for s in states], axis=1)
        return (encoder_outputs, encoder_padding_mask), cache

    def call_with_cache(self, token_ids, cache, cache_update_index, state):
        """Continues the decoder from the states in `cache` over
        `token_ids` (`cache_update_index` is unused: an LSTM's state has no
        positions).

        Returns:
            `(logits, cache)`: float32 `(batch, length, vocabulary_size)`
            and the states after the last token.
        """
        encoder_outputs, padding_mask = state
        states = [[cache[:, i, 0], cache[:, i, 1]]
                  for i in range(self.num_layers)]
        logits, states = self._decode(token_ids, states, encoder_outputs,
                                      padding_mask)
        return logits, ops.stack([ops.stack(s, axis=1) for s in states],
                                 axis=1)

    def cross_attention_weights(self, inputs):
        """The attention over the source, for a heat map: a list with one
        float32 tensor `(batch, 1, target_length, source_length)` (one
        "head"), as `TransformerSeq2Seq.cross_attention_weights`."""
        mask = inputs["encoder_padding_mask"]
        encoder_outputs, states = self._encode(inputs["encoder_token_ids"],
                                               mask)
        x = self.token_embedding(inputs["decoder_token_ids"])
        for lstm, state in zip(self.decoder_layers, states):
            x, _, _ = lstm(x, initial_state=state)
        _, scores = self.attention(
            [x, encoder_outputs], mask=[None, ops.cast(mask, "bool")],
            return_attention_scores=True)
        return [ops.cast(scores, "float32")[:, None]]
