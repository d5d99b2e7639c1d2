"""Optimizers that tfzoo's training saves with its models.

Compiled models carry their optimizer into `.keras` files, so it is
registered with Keras here, where `import tfzoo.models` loads it.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfzoo")
class AdamW(keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` whose global-norm clip sees the whole batch
    under a `tf.distribute` strategy.

    Keras 3 clips each replica's gradient before it sums them across the
    replicas: with N replicas each clip sees a gradient of 1/N of the batch,
    and the summed update may reach N times `global_clipnorm`. Here the
    norm is that of the summed gradient, as on one device, so a run trains
    the same on any number of replicas (at the cost of one more all-reduce
    per step while clipping is on).
    """

    def _clip_gradients(self, grads):
        context = tf.distribute.get_replica_context()
        if (not self.global_clipnorm or context is None
                or context.num_replicas_in_sync == 1):
            return super()._clip_gradients(grads)
        present = [g for g in grads if g is not None]
        norm = tf.linalg.global_norm(context.all_reduce("SUM", present))
        clipped = iter(tf.clip_by_global_norm(
            present, self.global_clipnorm, use_norm=norm)[0])
        return [None if g is None else next(clipped) for g in grads]
