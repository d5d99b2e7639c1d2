"""Loss and accuracy over the real tokens of padded target sequences."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfzoo")
class MaskedCrossEntropy(keras.losses.Loss):
    """Cross-entropy with label smoothing, averaged over non-padding tokens.

    With smoothing `epsilon` the target distribution puts `1 - epsilon` on
    the right token and spreads `epsilon` uniformly over the vocabulary
    (Szegedy et al., 2016; the Transformer's epsilon is 0.1, Vaswani et
    al., 2017, section 5.4):

        loss = (1 - epsilon) * -log p(y) + epsilon * mean_v(-log p(v))

    in nats per token. Positions whose target is `pad_id` count for
    nothing, and the mean is over the others, so the loss does not depend
    on how much a batch is padded.

    Args:
        pad_id: int, the target id to ignore.
        label_smoothing: float in [0, 1).

    Call arguments:
        y_true: int `(batch, length)` target ids.
        y_pred: float logits `(batch, length, vocabulary)`.

    Returns:
        float32 `(batch,)`, whose mean is the loss in nats per real token.

    Example:
    >>> loss = MaskedCrossEntropy(pad_id=3, label_smoothing=0.1)
    >>> float(loss([[5, 3]], keras.ops.zeros((1, 2, 10))))  # log(10)
    2.302...
    """

    def __init__(self, pad_id, label_smoothing=0.0,
                 name="masked_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got "
                             f"{label_smoothing}")
        self.pad_id = int(pad_id)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        log_probabilities = ops.log_softmax(ops.cast(y_pred, "float32"),
                                            axis=-1)
        nll = -ops.take_along_axis(log_probabilities, y_true[..., None],
                                   axis=-1)[..., 0]
        smooth = -ops.mean(log_probabilities, axis=-1)
        per_token = ((1.0 - self.label_smoothing) * nll
                     + self.label_smoothing * smooth)
        mask = ops.cast(y_true != self.pad_id, "float32")
        # One value per sentence, scaled so that their mean (Keras'
        # reduction, which also divides by the replicas of a distributed
        # step) is the mean over the batch's real tokens.
        batch = ops.cast(ops.shape(y_true)[0], "float32")
        return (ops.sum(per_token * mask, axis=-1) * batch
                / ops.maximum(ops.sum(mask), 1.0))

    def get_config(self):
        config = super().get_config()
        config.update({"pad_id": self.pad_id,
                       "label_smoothing": self.label_smoothing})
        return config


@keras.saving.register_keras_serializable(package="tfzoo")
class MaskedAccuracy(keras.metrics.Mean):
    """Share of non-padding target tokens whose most likely prediction is
    right ("token accuracy").

    Args:
        pad_id: int, the target id to ignore.
        name: str.

    Call arguments (`update_state`):
        y_true: int `(batch, length)` target ids.
        y_pred: float logits `(batch, length, vocabulary)`.
    """

    def __init__(self, pad_id, name="token_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_id = int(pad_id)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        right = ops.cast(
            ops.cast(ops.argmax(y_pred, axis=-1), "int32") == y_true,
            "float32")
        mask = ops.cast(y_true != self.pad_id, "float32")
        return super().update_state(right, sample_weight=mask)

    def get_config(self):
        config = super().get_config()
        config["pad_id"] = self.pad_id
        return config
