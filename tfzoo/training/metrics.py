"""Keras metrics that the progress bar shows as training goes."""

import math

import keras


@keras.saving.register_keras_serializable(package="tfzoo")
class BitsPerCharacter(keras.metrics.Mean):
    """Mean next-token cross-entropy in bits: `nats / ln 2`.

    For a character-level model a token is a character, so this is the
    bits per character of the text (lower is better; a uniform guess over
    65 characters is `log2(65)` = 6.02). As a compiled metric it shows in
    the progress bar at every step, and as `val_bits_per_character` after
    validation.

    Args:
        name: str, the metric's name in the logs.

    Example:
    >>> model.compile(loss=..., metrics=[BitsPerCharacter()])
    """

    def __init__(self, name="bits_per_character", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        nats = keras.losses.sparse_categorical_crossentropy(
            y_true, keras.ops.cast(y_pred, "float32"), from_logits=True)
        return super().update_state(nats / math.log(2), sample_weight)
