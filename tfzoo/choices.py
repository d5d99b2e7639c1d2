"""The names a user chooses among, each defined once.

Pure data with no TensorFlow import, so that `tfzoo --help` answers at once
and the command line checks its arguments before anything heavy loads. The
modules that implement each choice import their names from here and refuse
any other:

- `TASKS`: the kinds of run and the models each trains
  (`tfzoo.training.language_model`, `.classifier`, `.masked_lm`,
  `.translation`).
- `TOKENIZERS`: language-model tokenizers (`tfzoo.text.kinds`).
- `OPTIMIZERS`: language-model optimizers (`tfzoo.optimizers`).
- `STRATEGIES`, `PRECISIONS`: where and in what float type training runs
  (`tfzoo.training.distribute`).
- `QUOTING`: how TSV/CSV files read quotes (`tfzoo.data.table`).
- `NGRAM_SMOOTHINGS`: the n-gram model's smoothing
  (`tfzoo.models.ngram_lm`).
- `QUANTIZATION_MODES`: what `tfzoo export --quantize` stores the weights
  as (`tfzoo.quantization`).

Presets, the named model sizes, are in `tfzoo.presets`.
"""

# Every run folder's run.json names its task: one of these keys.
TASKS = {
    "language_model": ("gpt", "lstm", "ngram"),
    "classification": ("bert-classifier", "transformer-classifier",
                       "lstm-classifier"),
    "masked_lm": ("bert-mlm",),
    "translation": ("seq2seq", "lstm-seq2seq"),
}
MODELS = tuple(model for models in TASKS.values() for model in models)

TOKENIZERS = ("char", "subword")
# `tfzoo generate`'s default length, by tokenizer: a paragraph either way.
DEFAULT_NEW_TOKENS = {"char": 200, "subword": 100}
OPTIMIZERS = ("adamw", "muon")
STRATEGIES = ("auto", "default", "mirrored", "multiworker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
QUOTING = ("auto", "csv", "none")
NGRAM_SMOOTHINGS = ("kneser_ney", "add_k")
QUANTIZATION_MODES = ("int8",)


def task_of(model):
    """The task that trains `model` (a name in `MODELS`).

    Raises:
        ValueError: `model` is not in `MODELS`.
    """
    for task, models in TASKS.items():
        if model in models:
            return task
    raise ValueError(f"unknown model {model!r}; choose one of: "
                     f"{', '.join(MODELS)}")


def check_choice(kind, value, choices):
    """`ValueError` naming `kind` unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(f"unknown {kind} {value!r}; choose one of: "
                         f"{', '.join(choices)}")
