"""Keras callbacks for training: language-model and translation samples,
a stop at a diverged loss, the model graph, and the run folder's backup,
checkpoints and history, each written whole or not at all (see
`run_folder`)."""

import math
import os
import sys

import keras
import numpy as np
import tensorflow as tf

from tfzoo.generation import generate
from tfzoo.generation.translate import translate
from tfzoo.models.lora import has_lora, load_adapters, save_adapters
from tfzoo.progress import announce
from tfzoo.runs.run_folder import (BACKUP_DIR, BACKUP_METADATA_FILE,
                                       crash_point, file_digest, resume_point,
                                       run_path, save_model_atomically,
                                       write_json_atomically)


class EveryNSteps(keras.callbacks.Callback):
    """Calls `self.write(step)` every `every` optimizer steps (0: never
    on the way) and once when training ends."""

    def __init__(self, every):
        super().__init__()
        self.every = every

    def write(self, step):
        raise NotImplementedError

    def _step(self):
        return int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        if self.every and step % self.every == 0:
            self.write(step)

    def on_train_end(self, logs=None):
        with announce("writing the last sample"):
            self.write(self._step())


class TextSamples(EveryNSteps):
    """Writes a generated text sample to TensorBoard every `every` steps.

    Args:
        tokenizer: the model's tokenizer.
        log_dir: str, TensorBoard folder of the samples.
        every: int, steps between samples; 0 samples only at the end.
        prompt: str, the text each sample continues.
        max_new_tokens: int, length of each sample.
    """

    def __init__(self, tokenizer, log_dir, every=500, prompt="\n",
                 max_new_tokens=200):
        super().__init__(every)
        self.tokenizer = tokenizer
        self.log_dir = log_dir
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens
        self.last_sample = None
        self._writer = None

    def write(self, step):
        # A sample may be longer than the context: continue the text in
        # chunks, each seeing the most recent tokens that fit.
        text, sample = self.prompt, ""
        chunk = max(1, self.model.max_sequence_length // 2)
        for start in range(0, self.max_new_tokens, chunk):
            new = generate(
                self.model,
                self.tokenizer,
                text,
                max_new_tokens=min(chunk, self.max_new_tokens - start),
                temperature=0.8,
                seed=step + start,
            )
            text, sample = text + new, sample + new
        self.last_sample = sample
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            # Markdown code block, so TensorBoard keeps line breaks.
            tf.summary.text(
                "sample", "```\n" + self.last_sample + "\n```", step=step
            )
        self._writer.flush()


class TranslationSamples(EveryNSteps):
    """Writes greedy translations of a few fixed sentences to TensorBoard
    every `every` steps and at the end, one Markdown table per step (source,
    reference, translation).

    Args:
        tokenizer: the model's tokenizer.
        log_dir: str, TensorBoard folder of the samples.
        sources, references: lists of str, the sentences and their
            reference translations (a few dev pairs).
        every: int, steps between samples; 0 samples only at the end.
    """

    def __init__(self, tokenizer, log_dir, sources, references, every=500):
        super().__init__(every)
        self.tokenizer = tokenizer
        self.log_dir = log_dir
        self.sources = list(sources)
        self.references = list(references)
        self.last_translations = None
        self._writer = None

    def write(self, step):
        self.last_translations = translate(self.model, self.tokenizer,
                                           self.sources)
        rows = ["| source | reference | translation |", "|---|---|---|"]
        for row in zip(self.sources, self.references,
                       self.last_translations):
            rows.append("| " + " | ".join(
                cell.replace("|", "\\|") for cell in row) + " |")
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            tf.summary.text("translations", "\n".join(rows), step=step)
        self._writer.flush()


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training at the first NaN or infinite loss, before anything is
    saved: put it first, so that the backup and checkpoint callbacks of that
    epoch never run and the last good ones stay.

    Keras' `TerminateOnNaN` only sets `stop_training`, after which the epoch
    still ends and its callbacks save the broken weights; this one raises
    `TrainingDiverged` instead.

    Args:
        checkpoint_dir: str or None, named in the message.
    """

    def __init__(self, checkpoint_dir=None):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir

    def _check(self, logs, where):
        """Raises if a loss in `logs` is not finite; `where()` says when."""
        for name in ("loss", "val_loss"):
            if name in (logs or {}) and not math.isfinite(float(logs[name])):
                kept = ""
                if self.checkpoint_dir:
                    kept = (f"; the last good checkpoints are kept in "
                            f"{self.checkpoint_dir}")
                raise TrainingDiverged(
                    f"training stopped: {name} became {float(logs[name])} "
                    f"{where()}{kept}. Lower --learning-rate (or raise "
                    "--warmup-steps) and train again")

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, lambda: "at step "
                    f"{int(self.model.optimizer.iterations.numpy())}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, lambda: f"at the end of epoch {epoch + 1}")


class RunBackup(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore` for a run folder, safe against kills.

    At the end of each epoch it writes `backup/epoch_NNN.weights.h5`
    (weights and optimizer state) beside its final name and renames it,
    then `training_metadata.json`, which names that file and its SHA-256,
    the same way; only then does it remove the previous weights. The
    metadata thus always points at whole weights of its epoch. Put it after
    the history and checkpoint callbacks, so that an epoch is backed up
    only once everything else of it is written.

    It restores what `run_folder.resume_point` says: the backup (with the
    state of the dropout layers' random numbers, `random_states`), or, if
    that is missing or damaged, the newest good checkpoint (with one note
    on stderr; the random numbers then start again). The backup stays when
    training ends (`model.keras` is not written yet);
    `lifecycle.fit_and_save` removes it after.

    Args:
        run_dir: str, the run folder.
    """

    def __init__(self, run_dir):
        super().__init__(run_path(run_dir, BACKUP_DIR),
                         delete_checkpoint=False)
        self.run_dir = run_dir

    def on_train_begin(self, logs=None):
        point = resume_point(self.run_dir)
        if point.note:
            print(f"tfzoo: note: {point.note}", file=sys.stderr)
        if point.weights is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            # Loading optimizer state needs the optimizer's variables.
            self.model.optimizer.build(self.model.trainable_variables)
        if has_lora(self.model):
            load_adapters(self.model, point.weights, self.model.optimizer)
        else:
            self.model.load_weights(point.weights)
        for variable, state in zip(random_states(self.model),
                                   point.random_states or ()):
            variable.assign(np.asarray(state, variable.dtype))
        self.model._initial_epoch = point.epoch  # as BackupAndRestore does

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        lora = has_lora(self.model)  # the adapters and their state only
        suffix = ".adapters.npz" if lora else ".weights.h5"
        name = f"epoch_{self._current_epoch:03d}{suffix}"
        temporary = os.path.join(self.backup_dir, "partial" + suffix)
        if lora:
            save_adapters(self.model, temporary, self.model.optimizer)
        else:
            self.model.save_weights(temporary, overwrite=True)
        digest = file_digest(temporary)
        crash_point("backup", temporary)
        os.replace(temporary, os.path.join(self.backup_dir, name))
        write_json_atomically(
            os.path.join(self.backup_dir, BACKUP_METADATA_FILE),
            {"epoch": self._current_epoch, "batch": self._last_batch_seen,
             "weights": name, "sha256": digest,
             "random_states": [keras.ops.convert_to_numpy(v).tolist()
                               for v in random_states(self.model)]},
            kind="backup-metadata")
        for old in os.listdir(self.backup_dir):
            if old.endswith(suffix) and old != name:
                os.remove(os.path.join(self.backup_dir, old))


def random_states(model):
    """The states of the model's random number generators (its dropout
    layers' `SeedGenerator`s), in layer order. Keras' weights files leave
    them out, so the backup keeps them in its metadata: a resumed run then
    drops the units an uninterrupted one would."""
    return [v for v in model.variables
            if v.path.endswith("seed_generator_state")]


class RestoreOnly(RunBackup):
    """`RunBackup` for the workers of a cluster other than the chief: they
    resume from the chief's backup but write nothing."""

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the model (with its optimizer state) after every epoch as
    `epoch_001.keras`, `epoch_002.keras`, ... in `folder`, each written as
    `epoch_NNN.partial.keras` and renamed, so that a file of that name is
    always whole.

    Args:
        folder: str, the run's `checkpoints` folder.
    """

    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.folder, exist_ok=True)
        if has_lora(self.model):  # the adapters, not a copy of the base
            path = os.path.join(self.folder, f"epoch_{epoch + 1:03d}.npz")
            save_adapters_atomically(self.model, path, "checkpoint")
            return
        path = os.path.join(self.folder, f"epoch_{epoch + 1:03d}.keras")
        save_model_atomically(self.model, path, kind="checkpoint")


def save_adapters_atomically(model, path, kind="model"):
    """`lora.save_adapters` (with the optimizer's state) written beside
    `path` and renamed, as `save_model_atomically` writes a model."""
    temporary = path[: -len(".npz")] + ".partial.npz"
    save_adapters(model, temporary, model.optimizer)
    crash_point(kind, temporary)
    os.replace(temporary, path)


class EpochHistory(keras.callbacks.CSVLogger):
    """`CSVLogger(filename, append=True)` that a resumed run keeps free of
    duplicates: before its first epoch it drops the rows of that epoch and
    later ones (and a row cut by a kill), which belong to epochs the run is
    about to train again. Put it before the checkpoint and backup
    callbacks, so that every epoch a run resumes after has its row.
    """

    def __init__(self, filename):
        super().__init__(filename, append=True)

    def on_train_begin(self, logs=None):
        pass  # opened at the first epoch, once the backup is restored

    def on_epoch_begin(self, epoch, logs=None):
        if self.csv_file is None or self.csv_file.closed:
            keep_rows_before(self.filename, epoch, self.sep)
            super().on_train_begin()

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        crash_point("history")


def keep_rows_before(path, epoch, separator=","):
    """Cuts the CSV history at `path` to its header and the whole rows of
    epochs before `epoch` (0-based), rewriting it only if that changes it."""
    if not os.path.isfile(path):
        return
    with open(path, newline="") as f:
        lines = f.readlines()
    kept = lines[:1] if lines and lines[0].endswith("\n") else []
    for line in lines[1:]:
        first = line.split(separator, 1)[0]
        if line.endswith("\n") and first.isdigit() and int(first) < epoch:
            kept.append(line)
    if kept == lines:
        return
    temporary = path + ".tmp"
    with open(temporary, "w", newline="") as f:
        f.writelines(kept)
    os.replace(temporary, path)


class ModelGraph(keras.callbacks.Callback):
    """Writes the model's graph to TensorBoard's Graphs tab when training
    starts.

    Keras 3's `TensorBoard(write_graph=True)` reads `tf.function` internals
    that TensorFlow 2.21 no longer has, and writes no graph; this callback
    traces the model's forward pass on its input signature instead.

    Args:
        log_dir: str, TensorBoard folder (e.g. the run's `logs/train`).
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = log_dir

    def on_train_begin(self, logs=None):
        specs = tf.nest.map_structure(
            lambda tensor: tf.TensorSpec(tensor.shape, tensor.dtype,
                                         name=getattr(tensor, "name", None)),
            self.model.input)
        forward = tf.function(
            lambda inputs: self.model(inputs, training=False))
        graph = forward.get_concrete_function(specs).graph
        writer = tf.summary.create_file_writer(self.log_dir)
        with writer.as_default():
            tf.summary.graph(graph)
        writer.close()
