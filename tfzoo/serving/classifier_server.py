"""Strings in, class probabilities out: a classifier and its preprocessor
in one graph, what `tfzoo export` saves for a classifier run.

    classify(text, text_pair) -> {"probabilities", "label_id", "label"}
"""

import numpy as np
import tensorflow as tf

from tfzoo.serving.signatures import serving_function
from tfzoo.serving.warmup import text_batches


class ClassifierServer(tf.Module):
    """A classifier and its preprocessor behind one string signature.

    `classify(text, text_pair)`: `text` (string, batch) and optionally
    `text_pair` (string, batch; leave it out, or send an empty list, for
    single texts) -> `probabilities` (float32, batch x classes), `label_id`
    (int32) and `label` (string). Texts longer than the run's max length
    are truncated (the longer of a pair first).
    """

    def __init__(self, model, preprocessor, labels):
        super().__init__(name="classifier")
        if len(labels) != model.output_shape[-1]:
            raise ValueError(f"{len(labels)} labels for a model of "
                             f"{model.output_shape[-1]} classes")
        self.model = model
        self.preprocessor = preprocessor
        self.labels = tf.constant(list(labels))

        def classify(text, text_pair=tf.constant([], tf.string)):
            text = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8",
                                                errors="replace")
            text_pair = tf.strings.unicode_transcode(
                text_pair, "UTF-8", "UTF-8", errors="replace")
            inputs = tf.cond(
                tf.size(text_pair) > 0,
                lambda: self.preprocessor(text, text_pair),
                lambda: self.preprocessor(text),
            )
            probabilities = tf.nn.softmax(self.model(inputs, training=False))
            label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
            return {"probabilities": probabilities, "label_id": label_id,
                    "label": tf.gather(self.labels, label_id)}

        self.classify = serving_function(classify, [
            tf.TensorSpec([None], tf.string, name="text"),
            tf.TensorSpec([None], tf.string, name="text_pair"),
        ])

    def signatures(self):
        """The functions to save, by signature name."""
        return {"serving_default": self.classify}

    @staticmethod
    def warmup_inputs():
        """The warm-up calls (see `tfzoo.serving.warmup`): single texts,
        batches of 1 and 4."""
        return [("serving_default", {"text": batch,
                                     "text_pair": np.array([], object)})
                for batch in text_batches()]
