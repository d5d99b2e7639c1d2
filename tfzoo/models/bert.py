"""A BERT-style encoder and its two heads: classification and masked LM.

BERT (Devlin et al., 2018) is a stack of bidirectional Transformer blocks
with LayerNorm *after* each residual addition ("post-LN") and exact GELU.
`BertEncoder` builds it from tfzoo's `TransformerBlock(causal=False,
norm_first=False)`, so it loads Hugging Face BERT checkpoints exactly
(`tfzoo.models.bert_checkpoint.from_hf_checkpoint`).
"""

import keras

from tfzoo.layers import FastDropout, PositionalEmbedding, TransformerBlock
from tfzoo.models.base_model import BaseModel


@keras.saving.register_keras_serializable(package="tfzoo")
class BertEncoder(BaseModel):
    """Token, position and segment embeddings, post-LN blocks, a pooler.

    Inputs: a dict of int tensors `(batch, length)`: `token_ids`,
    `segment_ids` (0 for the first text, 1 for the second) and
    `padding_mask` (1 for real tokens). Outputs: a dict with
    `sequence_output` `(batch, length, hidden_dim)` and `pooled_output`
    `(batch, hidden_dim)`, the tanh-dense transform of the first ([CLS])
    position.

    Dropout applies to the embeddings and to each residual branch; BERT's
    extra dropout on the attention probabilities is left out (it changes
    nothing at inference).

    Args:
        vocabulary_size: int.
        num_layers: int.
        num_heads: int.
        hidden_dim: int.
        intermediate_dim: int, width of the MLPs.
        max_sequence_length: int, number of learned positions.
        num_segments: int, number of segment (token type) ids.
        dropout: float.
        layer_norm_epsilon: float.
        activation: the MLP activation: `"gelu"` (exact, as BERT and
            Hugging Face's `hidden_act="gelu"`) or
            `tfzoo.layers.gelu_approximate` (tanh, `"gelu_new"`; keras-hub's
            `BertBackbone` uses it for every BERT).
        **kwargs: standard `keras.Model` arguments.

    Example:
    >>> encoder = BertEncoder(vocabulary_size=100, num_layers=2, num_heads=2,
    ...                       hidden_dim=32, intermediate_dim=64)
    >>> ids = keras.ops.ones((1, 8), "int32")
    >>> outputs = encoder({"token_ids": ids, "segment_ids": ids * 0,
    ...                    "padding_mask": ids})
    >>> outputs["pooled_output"].shape
    (1, 32)
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        activation="gelu",
        dtype=None,
        **kwargs,
    ):
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)

        # === Layers ===
        self.token_embedding = keras.layers.ReversibleEmbedding(
            vocabulary_size, hidden_dim, embeddings_initializer=initializer,
            dtype=dtype, name="token_embedding",
        )
        self.position_embedding = PositionalEmbedding(
            max_sequence_length, initializer=initializer, dtype=dtype,
            name="position_embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            num_segments, hidden_dim, embeddings_initializer=initializer,
            dtype=dtype, name="segment_embedding",
        )
        self.embedding_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="embedding_norm"
        )
        self.embedding_dropout = FastDropout(
            dropout, dtype=dtype, name="embedding_dropout"
        )
        self.blocks = [
            TransformerBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                causal=False,
                norm_first=False,
                activation=activation,
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=initializer,
                dtype=dtype,
                name=f"block_{i}",
            )
            for i in range(num_layers)
        ]
        self.pooler = keras.layers.Dense(
            hidden_dim, activation="tanh", kernel_initializer=initializer,
            dtype=dtype, name="pooler",
        )

        # === Functional model ===
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("token_ids", "segment_ids", "padding_mask")
        }
        x = self.token_embedding(inputs["token_ids"])
        x = x + self.position_embedding(x)
        x = x + self.segment_embedding(inputs["segment_ids"])
        x = self.embedding_dropout(self.embedding_norm(x))
        for block in self.blocks:
            x = block(x, padding_mask=inputs["padding_mask"])
        outputs = {
            "sequence_output": x,
            "pooled_output": self.pooler(x[:, 0, :]),
        }
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype,
                         **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.activation = keras.activations.get(activation)


@keras.saving.register_keras_serializable(package="tfzoo")
class BertClassifier(BaseModel):
    """A `BertEncoder` with dropout and a Dense layer on the pooled output.

    Maps the encoder's input dict to logits `(batch, num_classes)`.

    Args:
        encoder: a `BertEncoder` (pretrained or new).
        num_classes: int.
        dropout: float, on the pooled output.
        **kwargs: standard `keras.Model` arguments.

    Example:
    >>> classifier = BertClassifier(encoder, num_classes=2)
    >>> classifier(inputs).shape
    (1, 2)
    """

    def __init__(self, encoder, num_classes, dropout=0.1, **kwargs):
        # === Layers ===
        self.encoder = encoder
        self.output_dropout = keras.layers.Dropout(dropout,
                                                   name="output_dropout")
        self.logits = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.TruncatedNormal(0.02),
            dtype="float32",
            name="logits",
        )

        # === Functional model ===
        inputs = dict(encoder.input)
        pooled = encoder(inputs)["pooled_output"]
        outputs = self.logits(self.output_dropout(pooled))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.dropout = dropout


@keras.saving.register_keras_serializable(package="tfzoo")
class BertMaskedLM(BaseModel):
    """A `BertEncoder` with a masked-language-model head.

    The head (keras-hub's `MaskedLMHead`: dense, GELU, LayerNorm, then the
    transposed token embedding plus a bias) predicts the original token at
    each of `mask_positions`; its output weights are tied to the encoder's
    token embedding.

    Inputs: the encoder's dict plus `mask_positions` `(batch, num_masks)`.
    Output: logits `(batch, num_masks, vocabulary_size)`.

    Args:
        encoder: a `BertEncoder`.
        **kwargs: standard `keras.Model` arguments.
    """

    def __init__(self, encoder, **kwargs):
        import keras_hub

        # === Layers ===
        self.encoder = encoder
        self.mlm_head = keras_hub.layers.MaskedLMHead(
            vocabulary_size=encoder.vocabulary_size,
            token_embedding=encoder.token_embedding,
            intermediate_activation="gelu",
            kernel_initializer=keras.initializers.TruncatedNormal(0.02),
            layer_norm_epsilon=encoder.layer_norm_epsilon,
            dtype="float32",
            name="mlm_head",
        )

        # === Functional model ===
        inputs = dict(encoder.input)
        inputs["mask_positions"] = keras.Input(
            shape=(None,), dtype="int32", name="mask_positions")
        sequence = encoder(
            {k: inputs[k] for k in encoder.input})["sequence_output"]
        logits = self.mlm_head(sequence, mask_positions=inputs[
            "mask_positions"])
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
