"""AdamW or Muon with linear warmup, cosine decay and gradient clipping."""

import keras

from tfzoo.optimizers import AdamW, Muon

OPTIMIZERS = ("adamw", "muon")

# Parameters that weight decay leaves alone: biases, LayerNorm scales and
# offsets, embedding tables (as in GPT-2 and nanoGPT).
NO_DECAY_NAMES = ["bias", "gamma", "beta", "embeddings"]


def check_optimizer(kind):
    """`ValueError` unless `kind` names one of `OPTIMIZERS`."""
    if kind not in OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {kind!r}; choose one of: "
            f"{', '.join(OPTIMIZERS)}"
        )


def warmup_cosine_schedule(
    learning_rate, total_steps, warmup_steps, min_ratio=0.1
):
    """Linear warmup from 0 to `learning_rate`, then cosine decay.

    The decay ends at `min_ratio * learning_rate` after `total_steps`.
    """
    warmup_steps = min(warmup_steps, max(total_steps - 1, 0))
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
    """AdamW or Muon for language models.

    Args:
        learning_rate: float, the peak learning rate.
        total_steps: int, the length of the schedule; `None` for a constant
            learning rate that a callback may change.
        warmup_steps: int, steps of linear warmup.
        weight_decay: float, decoupled weight decay of the kernels.
        clip_norm: float, the global gradient norm is clipped to this.
        beta_2: float, Adam's second-moment decay (0.99 suits small
            models and batches, as in nanoGPT's character models).
        min_ratio: float, final learning rate as a fraction of the peak.
        kind: `"adamw"` (default), or `"muon"`: Muon for the weight
            matrices and AdamW, at a tenth of the learning rate, for the
            embeddings, biases and LayerNorms.

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
