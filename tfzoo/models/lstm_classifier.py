"""An LSTM text classifier, the baseline of the BERT classifier."""

import keras
from tfzoo.models.base_model import BaseModel


@keras.saving.register_keras_serializable(package="tfzoo")
class LSTMClassifier(BaseModel):
    """Embedding, one LSTM, a Dense layer over the classes.

    It reads the same input dict as `BertClassifier` (`token_ids`,
    `segment_ids`, `padding_mask`; segments are ignored), so both train on
    the same pipeline. Padded positions are masked out of the LSTM.

    Args:
        vocabulary_size: int.
        num_classes: int.
        embedding_dim: int.
        hidden_dim: int, LSTM units.
        dropout: float, after the embedding and the LSTM.
        **kwargs: standard `keras.Model` arguments.

    Example:
    >>> model = LSTMClassifier(vocabulary_size=1000, num_classes=2)
    >>> ids = keras.ops.ones((4, 12), "int32")
    >>> model({"token_ids": ids, "segment_ids": ids * 0,
    ...        "padding_mask": ids}).shape
    (4, 2)
    """

    def __init__(self, vocabulary_size, num_classes, embedding_dim=128,
                 hidden_dim=128, dropout=0.1, **kwargs):
        # === Layers ===
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, name="embedding")
        self.lstm = keras.layers.LSTM(hidden_dim, name="lstm")
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        self.logits = keras.layers.Dense(num_classes, dtype="float32",
                                         name="logits")

        # === Functional model ===
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("token_ids", "segment_ids", "padding_mask")
        }
        x = self.dropout_layer(self.embedding(inputs["token_ids"]))
        x = self.lstm(x, mask=keras.ops.cast(inputs["padding_mask"], "bool"))
        outputs = self.logits(self.dropout_layer(x))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
