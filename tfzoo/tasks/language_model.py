"""The language-model task: a GPT or an LSTM trained on plain text.

The text (a file, a folder or a TFDS name) is split into training and
validation text (or validated whole on `--val`), tokenized by characters
or by SentencePiece subwords trained on it, and cut into windows of the
max sequence length; the model predicts each next token. The run folder
holds, besides what every run holds (`tfzoo.runs.run_folder`),
`tokenizer.json` (and `tokenizer.spm` for subwords).

Fine-tuning (`init`, `tfzoo train --init`) starts from a pretrained
model instead (`tfzoo.runs.pretrained.read_base`), with its tokenizer and
architecture: every weight trained, or with `lora_rank` low-rank adapters
only (`tfzoo.models.lora`). Its data may also be a JSONL file of
conversations (`tfzoo.data.conversations`), written by the model's chat
template, the loss counting the assistant's tokens only.

The parts that `tfzoo.training.lifecycle.train` runs, in its order, then
`evaluate`, `server` (what `tfzoo export` saves) and `plots`.
"""

import json
import os
from typing import NamedTuple, Optional

import keras
import keras_hub
import numpy as np

from tfzoo.data.conversations import (is_conversations, read_conversations,
                                      split_conversations)
from tfzoo.data.sources import load_text_splits
from tfzoo.data.windows import (count_windows, evaluation_windows,
                                training_windows)
from tfzoo.generation import text_scores
from tfzoo.generation.chat import chat_format_of, end_of_turn_id
from tfzoo.generation.generate import generate as generate_text
from tfzoo.generation.text_scores import evaluate_text
from tfzoo.models import build_model
from tfzoo.models.lora import DEFAULT_TARGETS, count_parameters
from tfzoo.progress import ProgressBars
from tfzoo.runs.loader import CHAT_TEMPLATE_FILE
from tfzoo.runs.pretrained import adapted_model, base_settings, read_base
from tfzoo.runs.run_folder import run_path
from tfzoo.serving.text_generator import TextGenerator
from tfzoo.text.chat_template import training_pieces
from tfzoo.text.encoding import encode as encode_text, encode_pieces
from tfzoo.text.kinds import (build_tokenizer, default_new_tokens,
                              tokenizer_kind)
from tfzoo.text.saving import load_tokenizer, save_tokenizer
from tfzoo.train_options import resolve_settings
from tfzoo.training.callbacks import TextSamples
from tfzoo.training.lifecycle import compile_for_training
from tfzoo.training.metrics import BitsPerCharacter

TASK = "language_model"
MODELS = ("gpt", "lstm")
# What to do with a finished run, said when training ends.
NEXT_STEP = ("generate with: tfzoo generate --run {run} "
             "\"TEXT\"")
COUNTED = False  # trained by gradient descent (see tfzoo.tasks.ngram)
# Fine-tuning's defaults where a preset gives them when training from
# scratch (with `init` no preset applies).
FINE_TUNING_DEFAULTS = {"batch_size": 4, "max_sequence_length": 512,
                        "dropout": 0.0, "warmup_steps": None,
                        "optimizer": "adamw"}
LORA_LEARNING_RATE = 5e-4
FULL_FINE_TUNING_LEARNING_RATE = 5e-5


def make_settings(model="gpt", preset=None, **options):
    """The settings of a language-model run: `options` (the settings of
    `tfzoo.train_options.TRAIN_OPTIONS` that apply to `model`), else
    their defaults, the preset's included.

    Everything here defines the run: rerunning with the same settings
    resumes it, with different ones is refused. The run validates on the
    last `validation_fraction` of `data`, or, given `validation_data` (a
    file, folder or TFDS name), trains on the whole of `data` and validates
    on the whole of `validation_data`. `batch_size` is the batch of each
    replica; `global_batch_size`, if given, is the batch of a whole step
    whatever the number of replicas (it must divide among them).

    Raises:
        ValueError: an unknown model, preset, tokenizer or optimizer, a
            preset of another model family, or both `epochs` and `steps`.

    Example:
    >>> make_settings("gpt", "gpt-tiny", data="input.txt", steps=200)["batch_size"]
    32
    """
    if model not in MODELS:
        raise ValueError(f"unknown language model {model!r}; choose one "
                         f"of: {', '.join(MODELS)}")
    if options.get("init") is not None:
        return _fine_tuning_settings(model, preset, options)
    settings = resolve_settings(model, dict(options, preset=preset))
    if settings["tokenizer"] != "subword":
        settings["vocabulary_size"] = None
    return {"task": TASK, **settings}


def _fine_tuning_settings(model, preset, options):
    """The settings of a run that fine-tunes `options["init"]`: the base's
    architecture, tokenizer and special tokens, no preset, fine-tuning's
    defaults (`FINE_TUNING_DEFAULTS`, the learning rate of LoRA or of full
    fine-tuning) for what is not given.

    Raises:
        ValueError: a preset, tokenizer or vocabulary size given; a base
            that is no pretrained language model (`base_settings`); a max
            sequence length above the base's.
    """
    if preset is not None:
        raise ValueError("--init takes the architecture from the base "
                         "model; give no --preset")
    if options.get("tokenizer") or options.get("vocabulary_size"):
        raise ValueError("--init fine-tunes with the base model's own "
                         "tokenizer; give no --tokenizer or --vocab-size")
    settings = resolve_settings(model, dict(options, preset=None))
    init = options["init"]
    if not init.startswith("hf://"):
        init = os.path.abspath(init)
    base = base_settings(init)
    longest = base["max_sequence_length"]
    lora = options.get("lora_rank") is not None
    defaults = dict(FINE_TUNING_DEFAULTS,
                    max_sequence_length=min(
                        FINE_TUNING_DEFAULTS["max_sequence_length"], longest),
                    learning_rate=LORA_LEARNING_RATE if lora
                    else FULL_FINE_TUNING_LEARNING_RATE)
    settings.update({name: value for name, value in defaults.items()
                     if options.get(name) is None})
    if settings["max_sequence_length"] > longest:
        raise ValueError(f"--max-sequence-length {settings['max_sequence_length']} "
                         f"is above the base model's {longest}")
    settings.update(
        preset=None, tokenizer="byte_pair", vocabulary_size=None, init=init,
        architecture=base["architecture"],
        special_tokens=base.get("special_tokens") or {})
    if lora:
        settings["lora_alpha"] = settings["lora_alpha"] or settings[
            "lora_rank"]
        settings["lora_targets"] = list(settings["lora_targets"]
                                        or DEFAULT_TARGETS)
    return {"task": TASK, **settings}


def upgrade_settings(settings):
    """Settings of older runs in today's form: `validation_data` (added for
    `--val`) is None for runs that split `data`."""
    return {"validation_data": None, **settings}


class FineTuningData(NamedTuple):
    """A fine-tuning run's data: its training and validation texts (str)
    or conversations (lists of messages), and the base model (a
    `tfzoo.runs.Run`)."""

    train: object
    validation: object
    base: object


def read_data(settings, data_dir=None):
    """`(train_text, validation_text)`: two str, as the run trains; with
    `init`, a `FineTuningData`.

    Raises:
        ValueError: see `tfzoo.data.sources.load_text_splits`,
            `tfzoo.data.conversations.read_conversations` and
            `tfzoo.runs.pretrained.read_base`.
    """
    if not settings.get("init"):
        return load_text_splits(settings["data"], data_dir,
                                settings["validation_fraction"],
                                settings["validation_data"])
    source, validation = settings["data"], settings["validation_data"]
    if is_conversations(source):
        def read(name):
            return read_conversations(name, data_dir,
                                      settings["skip_bad_rows"])

        train = read(source)
        if validation is None:
            train, validation = split_conversations(
                train, settings["validation_fraction"])
        else:
            validation = read(validation)
    else:
        train, validation = load_text_splits(
            source, data_dir, settings["validation_fraction"], validation)
    base = read_base(settings["init"])
    if isinstance(train, list) and not base.chat_template:
        raise ValueError(f"--init {settings['init']} has no chat template: "
                         "train it on plain text, not conversations")
    return FineTuningData(train, validation, base)


def load_preprocessor(run_dir):
    """The tokenizer saved in `run_dir`, or None."""
    try:
        return load_tokenizer(run_dir)
    except FileNotFoundError:
        return None


def make_preprocessor(settings, data):
    """The tokenizer, built from the training text (deterministic); the
    base model's with `init`."""
    if settings.get("init"):
        return data.base.tokenizer
    return build_tokenizer(settings["tokenizer"], data[0],
                           settings["vocabulary_size"])


class Tokens(NamedTuple):
    """Token ids (int32) and, for conversations, each token's weight as a
    target (float32: 1.0 for the assistant's tokens, 0.0 elsewhere)."""

    ids: np.ndarray
    weights: Optional[np.ndarray] = None


def encode(settings, tokenizer, data):
    """`(train_ids, validation_ids)`, int32 arrays; with `init`, two
    `Tokens` (conversations as the base's chat template writes them)."""
    tokenizing = ProgressBars({"tokenizing": "characters"})
    if not settings.get("init"):
        return tuple(encode_text(tokenizer, text, tokenizing)
                     for text in data)
    if isinstance(data.train, str):
        return tuple(Tokens(encode_text(tokenizer, text, tokenizing))
                     for text in (data.train, data.validation))
    return tuple(
        Tokens(*encode_pieces(tokenizer, [
            piece for messages in conversations
            for piece in training_pieces(data.base.chat_template, messages,
                                         settings["special_tokens"])]))
        for conversations in (data.train, data.validation))


def _ids(tokens):
    return tokens.ids if isinstance(tokens, Tokens) else tokens


def batches_per_pass(settings, examples, batch_size):
    """Batches of windows in one pass over the training tokens."""
    return count_windows(len(_ids(examples[0])),
                         settings["max_sequence_length"]) // batch_size


def datasets(settings, examples, tokenizer, batch_size, steps_per_epoch):
    """`(train, validation)` `tf.data` pipelines of windows: an endless,
    seeded stream of shuffled windows, and every validation window once."""
    train, validation = (example if isinstance(example, Tokens)
                         else Tokens(example) for example in examples)
    length = settings["max_sequence_length"]
    return (training_windows(train.ids, length, batch_size, steps_per_epoch,
                             seed=settings["seed"], weights=train.weights),
            evaluation_windows(validation.ids, length, batch_size,
                               weights=validation.weights))


def _tokenizer_key(tokenizer):
    """What makes a byte-level BPE tokenizer (its Keras layer name
    aside), as JSON."""
    config = tokenizer.get_config()
    return json.dumps([config.get(name) for name in (
        "vocabulary", "merges", "pre_tokenizer", "special_tokens",
        "ignore_merges")])


def build(settings, tokenizer, data=None):
    """The preset's model for the tokenizer's vocabulary; with `init` the
    base model, with `lora_rank` with adapters on it (everything else
    frozen).

    Raises:
        ValueError: a base whose tokenizer is not the run's (a resumed
            run's base replaced since); LoRA targets the model lacks.
    """
    if settings.get("init"):
        if _tokenizer_key(tokenizer) != _tokenizer_key(data.base.tokenizer):
            raise ValueError(
                f"--init {settings['init']} has another tokenizer than "
                "this run was started with; resume with the same base, or "
                "start again with --overwrite")
        if settings.get("lora_rank"):
            return adapted_model(settings, data.base.model)
        return data.base.model
    return build_model(settings["preset"], tokenizer.vocabulary_size(),
                       max_sequence_length=settings["max_sequence_length"],
                       dropout=settings["dropout"])


def compile(model, settings=None, total_steps=1, strategy=None):
    """Compiles a language model to train as `settings` say (see
    `lifecycle.compile_for_training`), or, without `settings`, for
    evaluation (or a quick fit at Adam's defaults): loss and perplexity
    (and bits per character for character models), XLA on.
    """
    metrics = [keras_hub.metrics.Perplexity(from_logits=True,
                                            name="perplexity")]
    if settings is not None and settings["tokenizer"] == "char":
        metrics.append(BitsPerCharacter())
    if settings is not None and settings.get("init"):
        # Weighted: chat data counts the assistant's tokens only, and the
        # loss is their mean (the same as unweighted for plain text).
        compile_for_training(
            model, settings, total_steps, metrics, strategy, weighted=True,
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight"))
        return
    if settings is None:
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=metrics, jit_compile=True)
        return
    compile_for_training(model, settings, total_steps, metrics, strategy)


def save(run_dir, tokenizer, data=None):
    """Writes the tokenizer into the run folder (and a fine-tuned base's
    chat template)."""
    save_tokenizer(tokenizer, run_dir)
    if isinstance(data, FineTuningData) and data.base.chat_template:
        with open(run_path(run_dir, CHAT_TEMPLATE_FILE), "w",
                  encoding="utf-8") as f:
            f.write(data.base.chat_template)


def describe(settings, model, tokenizer, examples):
    """The banner's first line: model, vocabulary and data."""
    if settings.get("init"):
        how = (f"LoRA rank {settings['lora_rank']} (alpha "
               f"{settings['lora_alpha']:g}) on "
               f"{', '.join(settings['lora_targets'])}"
               if settings.get("lora_rank") else "every weight")
        train, validation = examples
        unit = ("assistant tokens" if train.weights is not None
                else "tokens")
        counted = [len(t.ids) if t.weights is None else int(t.weights.sum())
                   for t in examples]
        return (f"Fine-tuning {settings['init']} ({how}): "
                f"{count_parameters(model.trainable_variables):,} trainable "
                f"of {model.count_params():,} parameters. Data: "
                f"{counted[0]:,} training and {counted[1]:,} validation "
                f"{unit}.")
    return (f"{settings['preset']}: {model.count_params():,} parameters, "
            f"{tokenizer_kind(tokenizer)} vocabulary of "
            f"{tokenizer.vocabulary_size():,} tokens. Data: "
            f"{len(examples[0]):,} training and {len(examples[1]):,} "
            "validation tokens.")


def batch_unit(settings, batch_size):
    """What one step reads, in words."""
    return f"{batch_size} x {settings['max_sequence_length']} tokens"


def callbacks(settings, tokenizer, data, run_dir, sample_every):
    """Text samples in TensorBoard every `sample_every` steps."""
    return [TextSamples(tokenizer, run_path(run_dir, "logs", "samples"),
                        every=sample_every)]


def evaluate(run, data=None, data_dir=None, split=None, batch_size=None,
             stride=None, verbose=True):
    """Scores a text with a finished run: see
    `tfzoo.generation.text_scores.evaluate_text`."""
    return evaluate_text(run, data, data_dir, split, batch_size, stride,
                         verbose)


def generate(run, prompts, max_new_tokens=None, **options):
    """Continues each prompt (a list of str) with the run's model: see
    `tfzoo.generation.generate` for `options` (`temperature`, `top_k`,
    `top_p`, `seed`, `end_token_id`, `use_cache`, `jit_compile`).
    `max_new_tokens` defaults to `default_new_tokens(run.tokenizer)`."""
    if max_new_tokens is None:
        max_new_tokens = default_new_tokens(run.tokenizer)
    return generate_text(run.model, run.tokenizer, list(prompts),
                         max_new_tokens=max_new_tokens, **options)


# `tfzoo eval`'s lines: per token, per character and per word.
report = text_scores.report


def server(run, jit_compile=True, end_token_id=None, labels=None,
           max_sequence_length=None):
    """The `TextGenerator` that `tfzoo export` saves: `serving_default`
    (prompt -> text) and `score` (text -> log-likelihood), and for a
    pretrained model with a ChatML chat template, `chat` (conversations ->
    replies), whose replies and texts end at the model's end of turn unless
    `end_token_id` says otherwise.

    Args:
        max_sequence_length: int or None, the longest text served (default:
            the run's).

    Raises:
        ValueError: `labels` (a classifier's option); a max sequence length
            above the run's.
    """
    if labels is not None:
        raise ValueError("labels apply to classifiers only")
    longest = run.model.max_sequence_length
    if max_sequence_length is not None and not (
            2 <= max_sequence_length <= longest):
        raise ValueError(f"the max sequence length must be from 2 to the "
                         f"run's {longest}, got {max_sequence_length}")
    chat_format = None
    if run.chat_template:
        chat_format = chat_format_of(run)
        if end_token_id is None:
            end_token_id = end_of_turn_id(run)
    return TextGenerator(run.model, run.tokenizer, jit_compile=jit_compile,
                         end_token_id=end_token_id,
                         max_sequence_length=max_sequence_length,
                         chat_format=chat_format)


def plots(run_dir, out_dir, data_dir=None):
    """No plots beyond the training curves."""
    return []

