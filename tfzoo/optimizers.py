"""tfzoo's optimizers: AdamW or Muon with linear warmup, cosine decay and
gradient clipping across replicas, for every task.

`make_optimizer` builds one. Compiled models carry their optimizer into
`.keras` files, so the classes are registered with Keras here, where
`import tfzoo.models` loads them.
"""

import keras
import tensorflow as tf

from tfzoo.choices import OPTIMIZERS, check_choice

# Parameters that weight decay leaves alone: biases, LayerNorm scales and
# offsets, embedding tables (as in GPT-2 and nanoGPT).
NO_DECAY_NAMES = ["bias", "gamma", "beta", "embeddings"]


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


def check_optimizer(kind):
    """`ValueError` unless `kind` names one of `tfzoo.choices.OPTIMIZERS`."""
    check_choice("optimizer", kind, OPTIMIZERS)


def warmup_steps_of(warmup_steps, total_steps):
    """The warmup of a run of `total_steps`, in steps: `warmup_steps`, or a
    tenth of the run (rounded down) where it is `None`.

    This is every task's one warmup convention: the setting
    `warmup_steps` counts optimizer steps, and `None` means "a tenth of
    the run" (the classifiers' and MLM's default, since their length is
    known only once the data is read).
    """
    if warmup_steps is None:
        return int(0.1 * total_steps)
    return warmup_steps


def warmup_cosine_schedule(
    learning_rate, total_steps, warmup_steps=None, min_ratio=0.1
):
    """Linear warmup from 0 to `learning_rate`, then cosine decay.

    The decay ends at `min_ratio * learning_rate` after `total_steps`.
    `warmup_steps`: see `warmup_steps_of`.
    """
    warmup_steps = min(warmup_steps_of(warmup_steps, total_steps),
                       max(total_steps - 1, 0))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        warmup_target=learning_rate,
        warmup_steps=warmup_steps,
        decay_steps=max(total_steps - warmup_steps, 1),
        alpha=min_ratio,
    )


def make_optimizer(
    learning_rate,
    total_steps=None,
    warmup_steps=100,
    weight_decay=0.1,
    clip_norm=1.0,
    beta_2=0.99,
    min_ratio=0.1,
    kind="adamw",
):
    """AdamW or Muon, for every task.

    Args:
        learning_rate: float, the peak learning rate.
        total_steps: int, the length of the schedule; `None` for a constant
            learning rate that a callback may change.
        warmup_steps: int or None, steps of linear warmup; `None`: a
            tenth of `total_steps` (see `warmup_steps_of`).
        weight_decay: float, decoupled weight decay of the kernels.
        clip_norm: float, the global gradient norm is clipped to this.
        beta_2: float, Adam's second-moment decay (0.99 suits small
            models and batches, as in nanoGPT's character models).
        min_ratio: float, final learning rate as a fraction of the peak.
        kind: `"adamw"` (default), or `"muon"`: Muon for the weight
            matrices and AdamW, at a tenth of the learning rate, for the
            embeddings, biases and LayerNorms.

    Raises:
        ValueError: an unknown `kind`.

    Example:
    >>> optimizer = make_optimizer(1e-3, total_steps=5000)
    >>> float(optimizer.learning_rate)  # step 0 of the warmup
    0.0
    """
    check_optimizer(kind)
    if total_steps is not None:
        learning_rate = warmup_cosine_schedule(
            learning_rate, total_steps, warmup_steps, min_ratio
        )
    if kind == "muon":
        optimizer = Muon(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            adam_weight_decay=weight_decay,
            adam_beta_2=beta_2,
            global_clipnorm=clip_norm,
        )
    else:
        optimizer = AdamW(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            beta_1=0.9,
            beta_2=beta_2,
            global_clipnorm=clip_norm,
        )
    optimizer.exclude_from_weight_decay(var_names=NO_DECAY_NAMES)
    return optimizer
