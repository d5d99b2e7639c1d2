"""Keras callbacks for training: language-model and translation samples,
a stop at a diverged loss, the model graph."""

import math

import keras
import tensorflow as tf

from tfzoo.generation import generate
from tfzoo.generation.translate import translate


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


class RestoreOnly(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` for the workers of a cluster other than the chief:
    they resume from the chief's backup but write nothing."""

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


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
