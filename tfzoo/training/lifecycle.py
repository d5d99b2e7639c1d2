"""A run's life, the same for every task: the one training skeleton.

`train(task, settings, run_dir)` runs it; each task's module
(`tfzoo.tasks`) gives the parts that differ (its data, preprocessing,
model, metrics and samples). In order:

1. check the run folder (`run_folder.check_run_folder`; nothing written;
   a finished run is loaded as it is);
2. read the data, make (or, resuming, load) the tokenizer or
   preprocessor, encode the data;
3. the schedule (`schedule`: epochs, steps per epoch, total steps; one
   rule for every task) and the input pipelines, a resumed run's training
   stream at the place it reached (`resume_stream`);
4. build and compile the model (`compile_for_training`: AdamW or Muon
   with warmup and cosine decay, cross-entropy on logits, the task's
   metrics, and XLA by one rule, `xla_state`);
5. open the run (`open_run`: a new folder's `run.json`, then the task's
   files), print the banner;
6. `fit_and_save`: `model.fit` with the run folder's callbacks
   (`run_callbacks`), then `model.keras`, written last and atomically,
   and only then the backup removed.

Nothing is written before step 5, so a run refused for its data or model
leaves nothing behind.
"""

import math
import os

import keras
import tensorflow as tf
# Public as tf.config.experimental.enable_op_determinism's counterpart in
# Keras' own check (keras.src.trainers.trainer.model_supports_jit).
from tensorflow.python.framework.config import is_op_determinism_enabled

from tfzoo.models.lora import has_lora
from tfzoo.optimizers import make_optimizer
from tfzoo.progress import TrainingProgress, announce
from tfzoo.runs.loader import Run, load_run
from tfzoo.runs.run_folder import (ADAPTERS_FILE, MODEL_FILE, backup_epoch,
                                   check_run_folder, model_file,
                                   remove_backup, run_path,
                                   save_model_atomically, start_run_folder,
                                   upgrade_settings)
from tfzoo.training.callbacks import (EpochCheckpoint, EpochHistory,
                                      ModelGraph, RestoreOnly, RunBackup,
                                      StopOnNonFiniteLoss,
                                      save_adapters_atomically)
from tfzoo.training.distribute import (check_workers_agree, describe,
                                       distribute_data, global_batch_size,
                                       is_chief, is_default,
                                       precision_policy,
                                       reporting_lost_workers,
                                       wait_for_each_other, weights_digest,
                                       worker_name)


def train(task, settings, run_dir, data_dir=None, overwrite=False,
          sample_every=500, callbacks=(), verbose="auto", strategy=None):
    """Trains the run that `settings` define into `run_dir`: the one
    skeleton of every task's training.

    A new run starts from scratch; an unfinished one resumes where its
    backup says, with its data stream at the same place (`resume_stream`);
    a finished one is loaded as it is. Everything the task reads is read
    and checked, and its model built, before anything is written, so that
    a run refused for its data or its model leaves nothing behind.

    Args:
        task: the task's module (see `tfzoo.tasks`), which gives the parts:
            `read_data`, `load_preprocessor`, `make_preprocessor`,
            `encode`, `batches_per_pass`, `datasets`, `build`, `compile`,
            `save`, `describe` and `callbacks`.
        settings: dict from the task's `make_settings`.
        run_dir: str, the run folder.
        data_dir: str or None, where relative data paths and TFDS manual
            downloads are looked up (default `$TFZOO_DATA_DIR`).
        overwrite: bool, replace a different run in `run_dir`.
        sample_every: int, steps between samples in TensorBoard (tasks that
            write samples).
        callbacks: extra Keras callbacks.
        verbose: `model.fit`'s verbosity.
        strategy: a `tf.distribute.Strategy` (see
            `distribute.make_strategy`); default: the current one. In a
            cluster only the chief writes into `run_dir`.

    Returns:
        The `tfzoo.runs.loader.Run`; for a run trained here its `sample`
        holds the text sample written at the end, if the task writes one.
        On the other workers of a cluster (which write no run folder) it
        holds the model and settings only.

    Raises:
        ValueError: `run_dir` holds a different run; bad data.
    """
    strategy = strategy or tf.distribute.get_strategy()
    upgraded = upgrade_settings(settings, task.upgrade_settings)
    state = check_run_folder(run_dir, settings, overwrite,
                             task.upgrade_settings)
    if state == "complete":
        print(f"{run_dir} is already complete ({model_file(settings)} "
              "exists); use --overwrite to train it again.")
        return load_run(run_dir, compile=not task.COUNTED, settings=upgraded)

    if not task.COUNTED:
        # Seeded before anything random is built (reseeding TensorFlow
        # later would lose the SentencePiece op's resource).
        keras.utils.set_random_seed(settings["seed"])
    say = verbose != 0 and is_chief(strategy)  # the waits' lines
    with announce("reading the data", verbose=say):
        data = task.read_data(settings, data_dir)
    preprocessor = None
    if state == "resume":
        preprocessor = task.load_preprocessor(run_dir)
    saved = preprocessor is not None
    if not saved:  # deterministic: every worker of a cluster builds it
        with announce("making the tokenizer", verbose=say):
            preprocessor = task.make_preprocessor(settings, data)
    with announce("encoding the data", verbose=say):
        examples = task.encode(settings, preprocessor, data)
    if task.COUNTED:  # the n-gram baseline: counted, no fit
        model, losses, seconds = task.count(settings, preprocessor, examples)
        open_run(run_dir, settings, overwrite, strategy, task)
        task.save(run_dir, preprocessor, data, model, losses)
        print(task.describe(settings, model, preprocessor, examples,
                            seconds, losses))
        return load_run(run_dir, settings=upgraded, model=model)

    batch_size = global_batch_size(settings["batch_size"],
                                   strategy.num_replicas_in_sync,
                                   settings.get("global_batch_size"))
    epochs, steps_per_epoch, total_steps = schedule(
        settings, task.batches_per_pass(settings, examples, batch_size))
    first_epoch = backup_epoch(run_dir) if state == "resume" else 0
    with announce("building the input pipeline", verbose=say):
        train_data, validation_data = task.datasets(
            settings, examples, preprocessor, batch_size, steps_per_epoch)
        train_data = resume_stream(train_data, first_epoch, steps_per_epoch)
        validation_data = with_known_length(validation_data)
    with strategy.scope(), precision_policy(settings.get(
            "precision", "float32")), announce("building the model",
                                               verbose=say):
        model = task.build(settings, preprocessor, data)
        task.compile(model, settings, total_steps, strategy)

    chief = open_run(run_dir, settings, overwrite, strategy, task)
    if chief and not saved:
        task.save(run_dir, preprocessor, data)
    check_workers_agree(strategy, first_epoch, run_dir)
    replicas = strategy.num_replicas_in_sync
    per_replica = (f" ({batch_size // replicas} per replica)"
                   if replicas > 1 else "")
    print(f"{task.describe(settings, model, preprocessor, examples)}\n"
          f"{schedule_line(epochs, steps_per_epoch, total_steps)} of "
          f"{task.batch_unit(settings, batch_size)}{per_replica}; "
          f"{describe(strategy)}, {settings.get('precision', 'float32')}, "
          f"{xla_state(settings, strategy)}.")
    if first_epoch:
        print(f"Resuming {run_dir} at epoch {first_epoch + 1}.")
    extra = []
    if chief:
        extra = task.callbacks(settings, preprocessor, data, run_dir,
                               sample_every)
    if total_steps < epochs * steps_per_epoch:
        extra.append(StopAtStep(total_steps))
    fit_and_save(model, run_dir, train_data, validation_data, epochs,
                 steps_per_epoch, [*extra, *callbacks], verbose, strategy,
                 slow_step=getattr(task, "SLOW_STEP", None),
                 last_step=total_steps)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        print(f"{worker_name(strategy)}: final weights "
              f"sha256 {weights_digest(model)}")
    if not chief:  # the other workers of a cluster wrote no run folder
        return Run(run_dir, settings["task"], model, None, upgraded)
    sample = next((c.last_sample for c in extra
                   if hasattr(c, "last_sample")), None)
    return load_run(run_dir, settings=upgraded, model=model)._replace(
        sample=sample)


def open_run(run_dir, settings, overwrite=False, strategy=None, task=None):
    """Starts or resumes the run in `run_dir` (checked by
    `run_folder.check_run_folder`): a new run's folder is cleared and its
    `run.json` written, by the chief only, once every worker of a cluster
    has looked at the folder.

    Returns:
        bool, whether this process writes the run folder (see
        `distribute.is_chief`).
    """
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    state = check_run_folder(run_dir, settings, overwrite,
                             task and task.upgrade_settings)
    with reporting_lost_workers(strategy):
        wait_for_each_other(strategy)
    if chief and state == "new":
        start_run_folder(run_dir, settings)
    return chief


def schedule(settings, batches_per_pass):
    """`(epochs, steps_per_epoch, total_steps)` of a run, the same rule for
    every task.

    An epoch is one pass over the training data (`batches_per_pass`
    batches) unless `steps_per_epoch` is set. A run is `epochs` epochs
    (default 1), or exactly `steps` steps: whole epochs and a shorter last
    one (`StopAtStep` ends it).
    """
    steps_per_epoch = settings.get("steps_per_epoch") or max(
        1, batches_per_pass)
    if settings.get("steps"):
        total_steps = settings["steps"]
        return (math.ceil(total_steps / steps_per_epoch), steps_per_epoch,
                total_steps)
    epochs = settings.get("epochs") or 1
    return epochs, steps_per_epoch, epochs * steps_per_epoch


def schedule_line(epochs, steps_per_epoch, total_steps):
    """The schedule in words: `"3 epochs x 334 steps"`, or with a shorter
    last epoch `"1000 steps: 2 epochs x 334 and 1 x 332"`."""
    def epochs_of(count):
        return f"{count} epoch" + ("" if count == 1 else "s")

    if total_steps == epochs * steps_per_epoch:
        return f"{epochs_of(epochs)} x {steps_per_epoch} steps"
    if epochs == 1:  # never "0 epochs x 490 and 1 x 3"
        return f"{total_steps} steps: 1 epoch x {total_steps}"
    last = total_steps - (epochs - 1) * steps_per_epoch
    return (f"{total_steps} steps: {epochs_of(epochs - 1)} x "
            f"{steps_per_epoch} and 1 x {last}")


def with_known_length(dataset):
    """`dataset` with its number of batches known to tf.data: read once
    to its end if it is not (length buckets, filters). Keras reads a
    dataset of unknown length to its end at each validation and then warns
    "Your input ran out of data; interrupting training", which is not so.
    The reading runs the input pipeline once, not the model (0.5 s for 100
    BERT examples here), at every start and resume. `dataset` must be
    finite: validation data is; an endless one (`repeat()`) is returned
    as it is, but one made endless and then filtered would never end."""
    if (dataset is None or int(dataset.cardinality())
            != tf.data.UNKNOWN_CARDINALITY):
        return dataset
    count = int(dataset.reduce(0, lambda count, _: count + 1))
    return dataset.apply(tf.data.experimental.assert_cardinality(count))


def resume_stream(dataset, first_epoch, steps_per_epoch):
    """The training stream of a run resumed at `first_epoch`: every task's
    one rule. A training stream is endless and a fixed function of the
    run's seed (shuffles and masks included), so the batches a resumed run
    trains on are those an uninterrupted run would: the stream less the
    `first_epoch * steps_per_epoch` batches already trained on. The skipped
    batches are computed (the input pipeline only, no model), so random
    state inside the pipeline advances as it did."""
    if not first_epoch:
        return dataset
    return dataset.skip(first_epoch * steps_per_epoch)


class StopAtStep(keras.callbacks.Callback):
    """Ends training after optimizer step `total_steps` (the last epoch
    of a `--steps` run is then shorter; Keras still validates it and ends
    it with the usual callbacks)."""

    def __init__(self, total_steps):
        super().__init__()
        self.total_steps = total_steps

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.total_steps:
            self.model.stop_training = True


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
                 strategy=None, slow_step=None, last_step=None):
    """`model.fit` with the run folder's callbacks (`callbacks` among them,
    before TensorBoard) and tfzoo's progress bar (`TrainingProgress`, told
    `slow_step` and `last_step`, unless `callbacks` hold a
    `ProgbarLogger`), then
    `model.keras`, written by the chief only.

    Raises:
        WorkerLost: a worker of the cluster stopped answering.
        TrainingDiverged: the loss became NaN or infinite.
    """
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    everything = run_callbacks(run_dir, list(callbacks), chief)
    if not any(isinstance(callback, keras.callbacks.ProgbarLogger)
               for callback in everything):
        everything.append(TrainingProgress(slow_step, last_step=last_step))
    try:
        with reporting_lost_workers(strategy):
            model.fit(
                distribute_data(train_data),
                validation_data=distribute_data(validation_data),
                epochs=epochs,
                steps_per_epoch=steps_per_epoch,
                callbacks=everything,
                shuffle=False,  # the pipelines shuffle
                verbose=verbose if chief else 0,
            )
    finally:  # a step that raised says no more
        for callback in everything:
            if isinstance(callback, TrainingProgress):
                callback.close()
    if chief:
        with announce("saving the model", verbose=verbose != 0):
            if has_lora(model):  # the adapters only, not a copy of the base
                save_adapters_atomically(model,
                                         run_path(run_dir, ADAPTERS_FILE))
            else:
                save_model_atomically(model, run_path(run_dir, MODEL_FILE))
            remove_backup(run_dir)
