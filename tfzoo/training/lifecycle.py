"""A run's life, the same for every task: open, compile, fit, save.

Each trainer (`language_model`, `classifier`, `masked_lm`, `translation`)
builds its data and model, and leaves the rest to this module:

1. `look_at_run` (nothing written; a finished run is loaded), then, once
   the trainer has read and checked its data, `open_run`: start a new run
   folder or resume an unfinished one (`run_folder` holds the rules); in a
   cluster every worker looks before the chief writes. A run refused for
   its data thus leaves nothing behind.
2. `compile_for_training`: AdamW or Muon with warmup and cosine decay
   (`tfzoo.optimizers`), cross-entropy on logits, the task's metrics, and
   XLA by one rule (`xla_state`).
3. `fit_and_save`: `model.fit` with the run folder's callbacks
   (`run_callbacks`), then `model.keras`, written last and atomically, and
   only then the backup removed.
"""

import os

import keras
import tensorflow as tf
# Public as tf.config.experimental.enable_op_determinism's counterpart in
# Keras' own check (keras.src.trainers.trainer.model_supports_jit).
from tensorflow.python.framework.config import is_op_determinism_enabled

from tfzoo.optimizers import make_optimizer
from tfzoo.training.callbacks import (EpochCheckpoint, EpochHistory,
                                      ModelGraph, RestoreOnly, RunBackup,
                                      StopOnNonFiniteLoss)
from tfzoo.training.distribute import (distribute_data, is_chief, is_default,
                                       reporting_lost_workers,
                                       wait_for_each_other)
from tfzoo.training.loader import load_run
from tfzoo.training.run_folder import (MODEL_FILE, check_run_folder,
                                       model_file,
                                       remove_backup, run_path,
                                       save_model_atomically,
                                       start_run_folder, upgrade_settings)


def look_at_run(run_dir, settings, overwrite=False, strategy=None):
    """What training `run_dir` with `settings` would do, writing nothing.

    Returns:
        `(state, finished)`: `state` as `run_folder.check_run_folder`
        returns it; `finished` is the loaded, compiled `loader.Run` when
        the run is complete (and announced), else `None`.

    Raises:
        ValueError: `run_dir` holds a different run or is not a run folder.
    """
    state = check_run_folder(run_dir, settings, overwrite)
    if state != "complete":
        return state, None
    open_run(run_dir, settings, overwrite, strategy)  # announces it
    return state, load_run(run_dir, compile=True,
                           settings=upgrade_settings(settings))


def open_run(run_dir, settings, overwrite=False, strategy=None):
    """Starts, resumes or finds finished the run in `run_dir`.

    Returns:
        `(strategy, chief, state)`: the strategy (default: the current
        one), whether this process writes the run folder (see
        `distribute.is_chief`), and `"new"`, `"resume"` or `"complete"`
        (see `run_folder.check_run_folder`; a complete run is announced).

    Raises:
        ValueError: `run_dir` holds a different run or is not a run folder.
    """
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    # Every worker of a cluster looks at the folder before the chief
    # writes into it, so that they all see the same state.
    state = check_run_folder(run_dir, settings, overwrite)
    with reporting_lost_workers(strategy):
        wait_for_each_other(strategy)
    if chief and state == "new":
        start_run_folder(run_dir, settings)
    if state == "complete":
        print(f"{run_dir} is already complete ({model_file(settings)} "
              "exists); "
              "use --overwrite to train it again.")
    return strategy, chief, state


def uses_xla(settings, strategy=None):
    """Whether the training step is XLA-compiled: see `xla_state`."""
    return xla_state(settings, strategy) == "XLA on"


def xla_state(settings, strategy=None):
    """What runs, in words: `"XLA on"` when the settings ask for it
    (`jit_compile`), the strategy is the default one-device strategy and
    op determinism is off; else `"XLA off"` and why.

    Keras turns XLA off under `tf.distribute` strategies (it would put all
    replicas' variables on one device) and under op determinism (not every
    XLA kernel is deterministic), with a warning; tfzoo decides the same
    before compiling, and says so in the training banner.
    """
    strategy = strategy or tf.distribute.get_strategy()
    if not settings.get("jit_compile", False):
        return "XLA off"
    if not is_default(strategy):
        return "XLA off (distributed)"
    if is_op_determinism_enabled():
        return "XLA off (--deterministic)"
    return "XLA on"


def compile_for_training(model, settings, total_steps, metrics,
                         strategy=None, weighted=False, min_ratio=0.1,
                         loss=None):
    """Compiles `model` to train as `settings` say.

    Args:
        model: a Keras model whose outputs are logits.
        settings: the run's settings: `learning_rate`, `warmup_steps` (see
            `tfzoo.optimizers.warmup_steps_of`), `weight_decay`, and
            optionally `clip_norm` (default 1.0), `optimizer` (`"adamw"`)
            and `jit_compile`.
        total_steps: int, the optimizer steps of the whole run.
        metrics: list of Keras metrics.
        strategy: the `tf.distribute` strategy (default: the current one).
        weighted: bool, count `metrics` with the sample weights (masked-LM
            targets).
        min_ratio: float, the final learning rate as a fraction of the
            peak.
        loss: a Keras loss; default: cross-entropy on logits.

    Raises:
        ValueError: settings of an old run whose `warmup_fraction` today's
            `warmup_steps` cannot express.
    """
    if "warmup_fraction" in settings:
        raise ValueError(
            f"this run was written with warmup_fraction "
            f"{settings['warmup_fraction']}, which tfzoo no longer reads; "
            "train it again with warmup_steps (--overwrite)")
    model.compile(
        optimizer=make_optimizer(
            settings["learning_rate"],
            total_steps,
            warmup_steps=settings["warmup_steps"],
            weight_decay=settings["weight_decay"],
            clip_norm=settings.get("clip_norm", 1.0),
            min_ratio=min_ratio,
            kind=settings.get("optimizer", "adamw"),
        ),
        loss=loss or keras.losses.SparseCategoricalCrossentropy(
            from_logits=True),
        **({"weighted_metrics": metrics} if weighted
           else {"metrics": metrics}),
        jit_compile=uses_xla(settings, strategy),
    )


def run_callbacks(run_dir, extra=(), chief=True):
    """The callbacks that keep a run folder: a stop at a NaN loss, the
    `extra` ones (which add to the epoch logs), `logs/history.csv`,
    TensorBoard, a `.keras` checkpoint per epoch, and last the backup for
    resuming (see `run_folder` for why in that order).

    Other workers than the `chief` of a cluster only restore the backup.
    """
    guard = StopOnNonFiniteLoss(run_path(run_dir, "checkpoints"))
    if not chief:
        return [guard, RestoreOnly(run_dir), *extra]
    os.makedirs(run_path(run_dir, "checkpoints"), exist_ok=True)
    return [
        guard,
        *extra,
        ModelGraph(run_path(run_dir, "logs", "train")),
        EpochHistory(run_path(run_dir, "logs", "history.csv")),
        # Epoch scalars only: with a step-count update_freq, Keras 3's
        # TensorBoard callback writes no epoch metrics or learning rate.
        keras.callbacks.TensorBoard(run_path(run_dir, "logs")),
        EpochCheckpoint(run_path(run_dir, "checkpoints")),
        RunBackup(run_dir),
    ]


def fit_and_save(model, run_dir, train_data, validation_data, epochs,
                 steps_per_epoch, callbacks=(), verbose="auto",
                 strategy=None):
    """`model.fit` with the run folder's callbacks (`callbacks` among them,
    before TensorBoard), then `model.keras`, written by the chief only.

    Raises:
        WorkerLost: a worker of the cluster stopped answering.
        TrainingDiverged: the loss became NaN or infinite.
    """
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    with reporting_lost_workers(strategy):
        model.fit(
            distribute_data(train_data),
            validation_data=distribute_data(validation_data),
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            callbacks=run_callbacks(run_dir, list(callbacks), chief),
            shuffle=False,  # the pipelines shuffle
            verbose=verbose if chief else 0,
        )
    if chief:
        save_model_atomically(model, run_path(run_dir, MODEL_FILE))
        remove_backup(run_dir)
