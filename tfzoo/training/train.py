"""Train a language model with `model.fit`, from settings to a run folder."""

import math
import os

import keras
import keras_hub
import tensorflow as tf

from tfzoo.data import (
    count_windows,
    evaluation_windows,
    load_text_splits,
    training_windows,
)
from tfzoo.models import build_model, get_preset
from tfzoo.text import (
    build_tokenizer,
    encode,
    load_tokenizer,
    save_tokenizer,
    tokenizer_kind,
)
from tfzoo.training.callbacks import (BitsPerCharacter, ModelGraph,
                                      RestoreOnly, StopOnNonFiniteLoss,
                                      TextSamples)
from tfzoo.training.distribute import (check_workers_agree, describe,
                                       distribute_data, global_batch_size,
                                       is_chief, is_default, precision_name,
                                       precision_policy,
                                       reporting_lost_workers,
                                       wait_for_each_other, weights_digest,
                                       worker_name)
from tfzoo.training.optimizer import check_optimizer, make_optimizer
from tfzoo.training.run_folder import (
    MODEL_FILE,
    backup_epoch,
    check_run_folder,
    run_path,
    save_model_atomically,
    start_run_folder,
)

DEFAULT_PRESETS = {"gpt": "gpt-tiny", "lstm": "lstm-char"}


def make_settings(
    model="gpt",
    preset=None,
    data="tiny_shakespeare",
    tokenizer="char",
    vocabulary_size=None,
    epochs=None,
    steps=None,
    steps_per_epoch=None,
    batch_size=None,
    global_batch_size=None,
    learning_rate=None,
    warmup_steps=None,
    optimizer="adamw",
    weight_decay=0.1,
    clip_norm=1.0,
    context_length=None,
    dropout=None,
    validation_fraction=0.1,
    seed=1337,
    jit_compile=True,
    precision="float32",
):
    """The settings of a run: the arguments, with the preset's defaults.

    Everything here defines the run: rerunning with the same settings
    resumes it, with different ones is refused. `batch_size` is the batch
    of each replica; `global_batch_size`, if given, is the batch of a whole
    step whatever the number of replicas (it must divide among them).

    Raises:
        ValueError: an unknown model, preset, tokenizer or optimizer, a
            preset of another model family, or both `epochs` and `steps`.
    """
    if model not in DEFAULT_PRESETS:
        raise ValueError(
            f"unknown model {model!r}; choose one of: "
            f"{', '.join(DEFAULT_PRESETS)}"
        )
    preset = preset or DEFAULT_PRESETS[model]
    spec = get_preset(preset)
    if spec["model"] != model:
        raise ValueError(
            f"preset {preset!r} is a {spec['model']} model, not {model}"
        )
    if tokenizer not in ("char", "subword"):
        raise ValueError(
            f"unknown tokenizer {tokenizer!r}; choose char or subword"
        )
    check_optimizer(optimizer)
    if epochs is not None and steps is not None:
        raise ValueError("give --epochs or --steps, not both")
    for name, value in (("epochs", epochs), ("steps", steps),
                        ("steps_per_epoch", steps_per_epoch),
                        ("batch_size", batch_size),
                        ("global_batch_size", global_batch_size),
                        ("context_length", context_length)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    training = spec["training"]
    if tokenizer == "subword":
        vocabulary_size = vocabulary_size or spec.get("vocabulary_size", 2000)
    return {
        "model": model,
        "preset": preset,
        "data": data,
        "tokenizer": tokenizer,
        "vocabulary_size": vocabulary_size if tokenizer == "subword" else None,
        "epochs": epochs if steps is None else None,
        "steps": steps,
        "steps_per_epoch": steps_per_epoch,
        "batch_size": batch_size or training["batch_size"],
        "global_batch_size": global_batch_size,
        "learning_rate": learning_rate or training["learning_rate"],
        "warmup_steps": (
            training["warmup_steps"] if warmup_steps is None else warmup_steps
        ),
        "optimizer": optimizer,
        "weight_decay": weight_decay,
        "clip_norm": clip_norm,
        "context_length": (
            context_length or spec["arguments"]["context_length"]
        ),
        "dropout": (
            spec["arguments"].get("dropout", 0.0) if dropout is None
            else dropout
        ),
        "validation_fraction": validation_fraction,
        "seed": seed,
        "jit_compile": jit_compile,
        "precision": precision_name(precision),
    }


def schedule(settings, num_train_tokens, batch_size):
    """`(epochs, steps_per_epoch)` of a run with global batch `batch_size`.

    An epoch is one pass over the training tokens unless `steps_per_epoch`
    is set. With `steps` the run is cut into whole epochs of (nearly) equal
    length that add up to at least `steps`.
    """
    batches_per_pass = max(
        1,
        count_windows(num_train_tokens, settings["context_length"])
        // batch_size,
    )
    steps_per_epoch = settings["steps_per_epoch"] or batches_per_pass
    if settings["steps"] is None:
        return settings["epochs"] or 1, steps_per_epoch
    epochs = math.ceil(settings["steps"] / steps_per_epoch)
    return epochs, math.ceil(settings["steps"] / epochs)


def compile_model(model, settings=None, total_steps=1, jit_compile=None):
    """Compiles for training (with `settings`) or for evaluation only;
    `jit_compile` overrides the settings' choice."""
    optimizer = "adam"
    if settings is not None:
        optimizer = make_optimizer(
            settings["learning_rate"],
            total_steps,
            warmup_steps=settings["warmup_steps"],
            weight_decay=settings["weight_decay"],
            clip_norm=settings["clip_norm"],
            kind=settings["optimizer"],
        )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras_hub.metrics.Perplexity(from_logits=True,
                                              name="perplexity")],
        jit_compile=(
            jit_compile if jit_compile is not None
            else settings is None or settings["jit_compile"]
        ),
    )


def run_callbacks(run_dir, extra=(), chief=True):
    """The callbacks that keep a run folder: a stop at a NaN loss, backup
    for resuming, the `extra` ones (which add to the epoch logs),
    `logs/history.csv`, TensorBoard and a `.keras` checkpoint per epoch.

    Other workers than the `chief` of a cluster only restore the backup.
    """
    guard = StopOnNonFiniteLoss(run_path(run_dir, "checkpoints"))
    if not chief:
        return [guard, RestoreOnly(run_path(run_dir, "backup")), *extra]
    os.makedirs(run_path(run_dir, "checkpoints"), exist_ok=True)
    return [
        guard,
        keras.callbacks.BackupAndRestore(run_path(run_dir, "backup")),
        *extra,
        ModelGraph(run_path(run_dir, "logs", "train")),
        keras.callbacks.CSVLogger(
            run_path(run_dir, "logs", "history.csv"), append=True
        ),
        # Epoch scalars only: with a step-count update_freq, Keras 3's
        # TensorBoard callback writes no epoch metrics or learning rate.
        keras.callbacks.TensorBoard(run_path(run_dir, "logs")),
        keras.callbacks.ModelCheckpoint(
            run_path(run_dir, "checkpoints", "epoch_{epoch:03d}.keras")
        ),
    ]


def open_run(run_dir, settings, overwrite=False, strategy=None):
    """Starts, resumes or finds finished the run in `run_dir`, the same way
    for every kind of run.

    Returns:
        `(strategy, chief, state)`: the strategy (default: the current
        one), whether this process writes the run folder (see
        `distribute.is_chief`), and `"new"`, `"resume"` or `"complete"`
        (see `check_run_folder`; a complete run is announced).
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
        print(f"{run_dir} is already complete ({MODEL_FILE} exists); "
              "use --overwrite to train it again.")
    return strategy, chief, state


def train(
    settings,
    run_dir,
    data_dir=None,
    overwrite=False,
    sample_every=500,
    callbacks=(),
    verbose="auto",
    strategy=None,
):
    """Trains the run that `settings` define into `run_dir`.

    A new run starts from scratch; an unfinished one resumes from its last
    backup; a finished one is left as it is.

    Args:
        settings: dict from `make_settings`.
        run_dir: str, the run folder.
        data_dir: str or None, where relative data paths and TFDS manual
            downloads are looked up (default `$TFZOO_DATA_DIR`).
        overwrite: bool, replace a different run in `run_dir`.
        sample_every: int, steps between text samples in TensorBoard.
        callbacks: extra Keras callbacks.
        verbose: `model.fit`'s verbosity.
        strategy: a `tf.distribute.Strategy` (see `distribute.make_strategy`);
            default: the current one. In a cluster only the chief writes
            into `run_dir`.

    Returns:
        `(model, tokenizer, sample)`: the trained model, its tokenizer and a
        text sample generated at the end (`None` for a finished run, and on
        the other workers of a cluster).

    Example:
    >>> settings = make_settings("gpt", "gpt-tiny", data="input.txt", steps=200)
    >>> model, tokenizer, sample = train(settings, "runs/tiny")
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    batch_size = global_batch_size(  # refused before the folder is touched
        settings["batch_size"], replicas, settings["global_batch_size"])
    strategy, chief, state = open_run(run_dir, settings, overwrite, strategy)
    if state == "complete":
        model = keras.saving.load_model(run_path(run_dir, MODEL_FILE))
        return model, load_tokenizer(run_dir), None

    keras.utils.set_random_seed(settings["seed"])
    train_text, validation_text = load_text_splits(
        settings["data"], data_dir, settings["validation_fraction"]
    )
    if os.path.isfile(run_path(run_dir, "tokenizer.json")):
        tokenizer = load_tokenizer(run_dir)
    else:  # deterministic, so every worker of a cluster builds the same
        tokenizer = build_tokenizer(
            settings["tokenizer"], train_text, settings["vocabulary_size"]
        )
        if chief:
            save_tokenizer(tokenizer, run_dir)
    train_ids = encode(tokenizer, train_text)
    validation_ids = encode(tokenizer, validation_text)

    context_length = settings["context_length"]
    epochs, steps_per_epoch = schedule(settings, len(train_ids), batch_size)
    first_epoch = backup_epoch(run_dir) if state == "resume" else 0
    check_workers_agree(strategy, first_epoch, run_dir)
    train_data = training_windows(
        train_ids,
        context_length,
        batch_size,
        steps_per_epoch,
        seed=settings["seed"],
        first_epoch=first_epoch,
    )
    validation_data = evaluation_windows(
        validation_ids, context_length, batch_size
    )

    # Keras turns XLA off under tf.distribute strategies (it would put all
    # replicas' variables on one device); so does tfzoo.
    jit_compile = settings["jit_compile"] and is_default(strategy)
    with strategy.scope(), precision_policy(settings["precision"]):
        model = build_model(
            settings["preset"],
            tokenizer.vocabulary_size(),
            context_length=context_length,
            dropout=settings["dropout"],
        )
        compile_model(model, settings, total_steps=epochs * steps_per_epoch,
                      jit_compile=jit_compile)
    print(
        f"{settings['preset']}: {model.count_params():,} parameters, "
        f"{tokenizer_kind(tokenizer)} vocabulary of "
        f"{tokenizer.vocabulary_size()} tokens. "
        f"Data: {len(train_ids):,} training and {len(validation_ids):,} "
        f"validation tokens. {epochs} epochs x {steps_per_epoch} steps of "
        f"{batch_size} x {context_length} tokens.\n"
        f"{describe(strategy)}: global batch {batch_size} "
        f"({batch_size // replicas} per replica), {settings['precision']}, "
        f"XLA {'on' if jit_compile else 'off'}."
    )
    if first_epoch:
        print(f"Resuming {run_dir} at epoch {first_epoch + 1}.")

    extra = [BitsPerCharacter()] if settings["tokenizer"] == "char" else []
    samples = None
    if chief:
        samples = TextSamples(
            tokenizer, run_path(run_dir, "logs", "samples"),
            every=sample_every)
        extra.append(samples)
    fit_callbacks = run_callbacks(run_dir, [*extra, *callbacks], chief)
    with reporting_lost_workers(strategy):
        model.fit(
            distribute_data(train_data),
            validation_data=distribute_data(validation_data),
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            callbacks=fit_callbacks,
            shuffle=False,  # the pipeline shuffles
            verbose=verbose if chief else 0,
        )
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        print(f"{worker_name(strategy)}: final weights "
              f"sha256 {weights_digest(model)}")
    if not chief:
        return model, tokenizer, None
    save_model_atomically(model, run_path(run_dir, MODEL_FILE))
    return model, tokenizer, samples.last_sample
