"""Optimizers that tfzoo's training saves with its models.

Compiled models carry their optimizer into `.keras` files, so they are
registered with Keras here, where `import tfzoo.models` loads them.
"""

import keras
import tensorflow as tf


class ClipAcrossReplicas:
    """Makes an optimizer's global-norm clip see the whole batch under a
    `tf.distribute` strategy.

    Keras 3 clips each replica's gradient before it sums them across the
    replicas: with N replicas each clip sees a gradient of 1/N of the batch,
    and the summed update may reach N times `global_clipnorm`. Here the
    norm is that of the summed gradient, as on one device, so a run trains
    the same on any number of replicas (at the cost of one more all-reduce
    per step while clipping is on). Put it before the Keras optimizer in
    the bases: `class AdamW(ClipAcrossReplicas, keras.optimizers.AdamW)`.
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


@keras.saving.register_keras_serializable(package="tfzoo")
class AdamW(ClipAcrossReplicas, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` with a clip across replicas
    (see `ClipAcrossReplicas`)."""


@keras.saving.register_keras_serializable(package="tfzoo")
class Muon(ClipAcrossReplicas, keras.optimizers.Muon):
    """`keras.optimizers.Muon` with a clip across replicas
    (see `ClipAcrossReplicas`).

    Muon (Jordan et al., 2024) orthogonalizes the momentum of every 2-D
    weight matrix with a few Newton-Schulz steps before it applies it;
    embeddings, biases and LayerNorm parameters train with AdamW at
    `adam_lr_ratio` times the learning rate.
    """
