"""Train and evaluate a language model (GPT or LSTM) with `model.fit`.

The language-model sibling of `classifier` and `masked_lm`: it reads the
text (`tfzoo.data`), builds the tokenizer (`tfzoo.text`) and the preset's
model (`tfzoo.models.build_model`), and leaves the run's life to
`lifecycle`. `evaluate` scores a finished run on its data.
"""

import math
import os

import keras
import keras_hub
import tensorflow as tf

from tfzoo.choices import TASKS, TOKENIZERS, check_choice
from tfzoo.data import (
    count_windows,
    evaluation_windows,
    load_text,
    load_text_splits,
    training_windows,
)
from tfzoo.data.sources import is_tfds_name
from tfzoo.generation.scoring import text_log_likelihood
from tfzoo.models import build_model
from tfzoo.models.ngram_lm import NGramLM
from tfzoo.optimizers import check_optimizer
from tfzoo.presets import default_preset, get_preset
from tfzoo.progress import ProgressBars
from tfzoo.text.encoding import decode, encode
from tfzoo.text.kinds import (DEFAULT_VOCABULARY_SIZE, build_tokenizer,
                              tokenizer_kind)
from tfzoo.text.saving import TOKENIZER_FILE, load_tokenizer, save_tokenizer
from tfzoo.training.callbacks import TextSamples
from tfzoo.training.distribute import (check_workers_agree, describe,
                                       global_batch_size, precision_name,
                                       precision_policy, weights_digest,
                                       worker_name)
from tfzoo.training.lifecycle import (compile_for_training, fit_and_save,
                                      look_at_run, open_run, xla_state)
from tfzoo.training.metrics import BitsPerCharacter
from tfzoo.training.run_folder import backup_epoch, run_path

TASK = "language_model"
# The neural ones; the n-gram model is counted by `training.ngram`.
MODELS = tuple(model for model in TASKS[TASK] if model != "ngram")
SPLITS = ("train", "validation")


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
    optimizer=None,
    weight_decay=0.1,
    clip_norm=1.0,
    max_sequence_length=None,
    dropout=None,
    validation_fraction=0.1,
    validation_data=None,
    seed=1337,
    jit_compile=True,
    precision="float32",
):
    """The settings of a run: the arguments, with the preset's defaults.

    Everything here defines the run: rerunning with the same settings
    resumes it, with different ones is refused. The run validates on the
    last `validation_fraction` of `data`, or, given `validation_data` (a
    file, folder or TFDS name), trains on the whole of `data` and validates
    on the whole of `validation_data`. `batch_size` is the batch
    of each replica; `global_batch_size`, if given, is the batch of a whole
    step whatever the number of replicas (it must divide among them).

    Raises:
        ValueError: an unknown model, preset, tokenizer or optimizer, a
            preset of another model family, or both `epochs` and `steps`.
    """
    check_choice("language model", model, MODELS)
    check_choice("tokenizer", tokenizer, TOKENIZERS)
    preset = preset or default_preset(model, tokenizer)
    spec = get_preset(preset)
    if spec["model"] != model:
        raise ValueError(
            f"preset {preset!r} is a {spec['model']} model, not {model}"
        )
    training = spec["training"]
    optimizer = optimizer or training.get("optimizer", "adamw")
    check_optimizer(optimizer)
    if epochs is not None and steps is not None:
        raise ValueError("give --epochs or --steps, not both")
    for name, value in (("epochs", epochs), ("steps", steps),
                        ("steps_per_epoch", steps_per_epoch),
                        ("batch_size", batch_size),
                        ("global_batch_size", global_batch_size),
                        ("max_sequence_length", max_sequence_length)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if tokenizer == "subword":
        vocabulary_size = vocabulary_size or spec.get(
            "vocabulary_size", DEFAULT_VOCABULARY_SIZE)
    return {
        "task": TASK,
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
        "max_sequence_length": (
            max_sequence_length or spec["arguments"]["max_sequence_length"]
        ),
        "dropout": (
            spec["arguments"].get("dropout", 0.0) if dropout is None
            else dropout
        ),
        "validation_fraction": (
            None if validation_data is not None else validation_fraction),
        "validation_data": validation_data,
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
        count_windows(num_train_tokens, settings["max_sequence_length"])
        // batch_size,
    )
    steps_per_epoch = settings["steps_per_epoch"] or batches_per_pass
    if settings["steps"] is None:
        return settings["epochs"] or 1, steps_per_epoch
    epochs = math.ceil(settings["steps"] / steps_per_epoch)
    return epochs, math.ceil(settings["steps"] / epochs)


def compile_model(model, settings=None, total_steps=1, strategy=None):
    """Compiles a language model to train as `settings` say (see
    `lifecycle.compile_for_training`), or, without `settings`, for
    evaluation (or a quick fit at Adam's defaults): loss and perplexity
    (and bits per character for character models), XLA on.
    """
    metrics = [keras_hub.metrics.Perplexity(from_logits=True,
                                            name="perplexity")]
    if settings is not None and settings["tokenizer"] == "char":
        metrics.append(BitsPerCharacter())
    if settings is None:
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=metrics, jit_compile=True)
        return
    compile_for_training(model, settings, total_steps, metrics, strategy)


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

    Raises:
        ValueError: `run_dir` holds a different run; bad data.

    Example:
    >>> settings = make_settings("gpt", "gpt-tiny", data="input.txt", steps=200)
    >>> model, tokenizer, sample = train(settings, "runs/tiny")
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    batch_size = global_batch_size(  # refused before the folder is touched
        settings["batch_size"], replicas, settings["global_batch_size"])
    # Data, tokenizer and windows are checked before anything is written,
    # so that a run refused for its data leaves no run folder behind.
    state, finished = look_at_run(run_dir, settings, overwrite, strategy)
    if finished:
        return finished.model, finished.tokenizer, None

    keras.utils.set_random_seed(settings["seed"])
    train_text, validation_text = run_texts(settings, data_dir)
    has_tokenizer = state == "resume" and os.path.isfile(
        run_path(run_dir, TOKENIZER_FILE))
    if has_tokenizer:
        tokenizer = load_tokenizer(run_dir)
    else:  # deterministic, so every worker of a cluster builds the same
        tokenizer = build_tokenizer(
            settings["tokenizer"], train_text, settings["vocabulary_size"]
        )
    tokenizing = ProgressBars({"tokenizing": "characters"})
    train_ids = encode(tokenizer, train_text, tokenizing)
    validation_ids = encode(tokenizer, validation_text, tokenizing)

    max_sequence_length = settings["max_sequence_length"]
    epochs, steps_per_epoch = schedule(settings, len(train_ids), batch_size)
    first_epoch = backup_epoch(run_dir) if state == "resume" else 0
    train_data = training_windows(
        train_ids,
        max_sequence_length,
        batch_size,
        steps_per_epoch,
        seed=settings["seed"],
        first_epoch=first_epoch,
    )
    validation_data = evaluation_windows(
        validation_ids, max_sequence_length, batch_size
    )

    strategy, chief, state = open_run(run_dir, settings, overwrite, strategy)
    if chief and not has_tokenizer:
        save_tokenizer(tokenizer, run_dir)
    check_workers_agree(strategy, first_epoch, run_dir)

    with strategy.scope(), precision_policy(settings["precision"]):
        model = build_model(
            settings["preset"],
            tokenizer.vocabulary_size(),
            max_sequence_length=max_sequence_length,
            dropout=settings["dropout"],
        )
        compile_model(model, settings, epochs * steps_per_epoch, strategy)
    print(
        f"{settings['preset']}: {model.count_params():,} parameters, "
        f"{tokenizer_kind(tokenizer)} vocabulary of "
        f"{tokenizer.vocabulary_size()} tokens. "
        f"Data: {len(train_ids):,} training and {len(validation_ids):,} "
        f"validation tokens. {epochs} epochs x {steps_per_epoch} steps of "
        f"{batch_size} x {max_sequence_length} tokens.\n"
        f"{describe(strategy)}: global batch {batch_size} "
        f"({batch_size // replicas} per replica), {settings['precision']}, "
        f"{xla_state(settings, strategy)}."
    )
    if first_epoch:
        print(f"Resuming {run_dir} at epoch {first_epoch + 1}.")

    extra = []
    samples = None
    if chief:  # text samples in TensorBoard
        samples = TextSamples(
            tokenizer, run_path(run_dir, "logs", "samples"),
            every=sample_every)
        extra.append(samples)
    fit_and_save(model, run_dir, train_data, validation_data, epochs,
                 steps_per_epoch, [*extra, *callbacks], verbose, strategy)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        print(f"{worker_name(strategy)}: final weights "
              f"sha256 {weights_digest(model)}")
    if not chief:
        return model, tokenizer, None
    return model, tokenizer, samples.last_sample


def run_texts(settings, data_dir=None):
    """`(train_text, validation_text)` of a run, as it trained."""
    return load_text_splits(settings["data"], data_dir,
                            settings["validation_fraction"],
                            settings.get("validation_data"))


def evaluate(run, data=None, data_dir=None, split=None, batch_size=None,
             stride=None, verbose=True):
    """Scores a text with a finished language-model run: the run's own
    validation (or training) text, or the whole of any file.

    The text is scored whole with overlapping windows (see
    `tfzoo.generation.scoring`; the same rule as the exported `score`
    signature): every token but the first is predicted once, with at least
    `max_sequence_length - stride` tokens of context.

    Args:
        run: a `loader.Run` of a language model.
        data: str or None: a file or folder, scored whole, or a TFDS name
            (its `split`); default: the run's own data, split as it trained.
        data_dir: str or None, see `load_text_splits`.
        split: `"validation"` (default) or `"train"`: the part of the run's
            data or of a TFDS dataset. A file given as `data` has none.
        batch_size: int or None, windows per step; default the run's batch.
        stride: int or None, in tokens, from 1 to the max sequence length;
            default half of it.
        verbose: bool, show a progress bar.

    Returns:
        dict: `loss` (nats per token), `perplexity`, `tokens` (the tokens
        scored), `bits_per_character` (bits per character of the scored
        tokens), `words` (whitespace-separated words of the text, each line
        end counted as one word), `loss_per_word` (nats) and
        `word_perplexity`, so that figures compare with published
        word-level results; and `source`, what was scored, in words.

    Raises:
        ValueError: an unknown split, or a split with a file; unreadable
            data; a text of fewer than 2 tokens.

    Example:
    >>> evaluate(load_run("runs/tiny"))["perplexity"]
    """
    settings = run.settings
    if split is not None:
        check_choice("split", split, SPLITS)
    if data is None:
        split = split or "validation"
        train_text, validation_text = run_texts(settings, data_dir)
        text = train_text if split == "train" else validation_text
        source = f"the {split} text of {settings['data']}"
        if split == "validation" and settings.get("validation_data"):
            source = f"the whole of {settings['validation_data']}"
    elif is_tfds_name(data):
        split = split or "validation"
        text = load_text(data, data_dir, split)
        source = f"the {split} split of {data}"
    else:
        if split is not None:
            raise ValueError(f"{data} is scored whole; --split picks a part "
                             "of the run's own data or of a TFDS dataset")
        text = load_text(data, data_dir)
        source = f"the whole of {data}"
    token_ids = encode(run.tokenizer, text, ProgressBars(
        {"tokenizing": "characters"}, verbose))
    if len(token_ids) < 2:
        raise ValueError(f"{source} has {len(token_ids)} token(s); scoring "
                         "needs at least 2")
    if isinstance(run.model, NGramLM):  # each token given the n-1 before
        log_likelihood = float(run.model.log_probabilities(token_ids).sum())
        tokens = len(token_ids) - 1
    else:
        log_likelihood, tokens = text_log_likelihood(
            run.model, token_ids, stride=stride,
            batch_size=batch_size or settings["batch_size"],
            jit_compile=settings.get("jit_compile", True), verbose=verbose)
    nats = -log_likelihood
    characters = len(text) - len(decode(run.tokenizer, token_ids[:1]))
    words = len(text.split()) + text.count("\n")
    return {
        "source": source,
        "loss": nats / tokens,
        "perplexity": math.exp(min(nats / tokens, 700.0)),
        "tokens": tokens,
        "bits_per_character": nats / max(characters, 1) / math.log(2),
        "words": words,
        "loss_per_word": nats / max(words, 1),
        "word_perplexity": math.exp(min(nats / max(words, 1), 700.0)),
    }
