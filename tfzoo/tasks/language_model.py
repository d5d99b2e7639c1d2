"""The language-model task: a GPT or an LSTM trained on plain text.

The text (a file, a folder or a TFDS name) is split into training and
validation text (or validated whole on `--val`), tokenized by characters
or by SentencePiece subwords trained on it, and cut into windows of the
max sequence length; the model predicts each next token. The run folder
holds, besides what every run holds (`tfzoo.runs.run_folder`),
`tokenizer.json` (and `tokenizer.spm` for subwords).

The parts that `tfzoo.training.lifecycle.train` runs, in its order, then
`evaluate`, `server` (what `tfzoo export` saves) and `plots`.
"""

import keras
import keras_hub

from tfzoo.data.sources import load_text_splits
from tfzoo.data.windows import (count_windows, evaluation_windows,
                                training_windows)
from tfzoo.generation import text_scores
from tfzoo.generation.chat import chat_format_of, end_of_turn_id
from tfzoo.generation.generate import generate as generate_text
from tfzoo.generation.text_scores import evaluate_text
from tfzoo.models import build_model
from tfzoo.progress import ProgressBars
from tfzoo.runs.run_folder import run_path
from tfzoo.serving.text_generator import TextGenerator
from tfzoo.text.encoding import encode as encode_text
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
    settings = resolve_settings(model, dict(options, preset=preset))
    if settings["tokenizer"] != "subword":
        settings["vocabulary_size"] = None
    return {"task": TASK, **settings}


def upgrade_settings(settings):
    """Settings of older runs in today's form: `validation_data` (added for
    `--val`) is None for runs that split `data`."""
    return {"validation_data": None, **settings}


def read_data(settings, data_dir=None):
    """`(train_text, validation_text)`: two str, as the run trains."""
    return load_text_splits(settings["data"], data_dir,
                            settings["validation_fraction"],
                            settings["validation_data"])


def load_preprocessor(run_dir):
    """The tokenizer saved in `run_dir`, or None."""
    try:
        return load_tokenizer(run_dir)
    except FileNotFoundError:
        return None


def make_preprocessor(settings, data):
    """The tokenizer, built from the training text (deterministic)."""
    return build_tokenizer(settings["tokenizer"], data[0],
                           settings["vocabulary_size"])


def encode(settings, tokenizer, data):
    """`(train_ids, validation_ids)`, int32 arrays."""
    tokenizing = ProgressBars({"tokenizing": "characters"})
    return tuple(encode_text(tokenizer, text, tokenizing) for text in data)


def batches_per_pass(settings, examples, batch_size):
    """Batches of windows in one pass over the training tokens."""
    return count_windows(len(examples[0]),
                         settings["max_sequence_length"]) // batch_size


def datasets(settings, examples, tokenizer, batch_size, steps_per_epoch):
    """`(train, validation)` `tf.data` pipelines of windows: an endless,
    seeded stream of shuffled windows, and every validation window once."""
    train_ids, validation_ids = examples
    length = settings["max_sequence_length"]
    return (training_windows(train_ids, length, batch_size, steps_per_epoch,
                             seed=settings["seed"]),
            evaluation_windows(validation_ids, length, batch_size))


def build(settings, tokenizer, data=None):
    """The preset's model for the tokenizer's vocabulary."""
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
    if settings is None:
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=metrics, jit_compile=True)
        return
    compile_for_training(model, settings, total_steps, metrics, strategy)


def save(run_dir, tokenizer, data=None):
    """Writes the tokenizer into the run folder."""
    save_tokenizer(tokenizer, run_dir)


def describe(settings, model, tokenizer, examples):
    """The banner's first line: model, vocabulary and data."""
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

