"""Every option of `tfzoo train`, in one table: what it is, which models
it applies to, and its default, each written once.

`tfzoo train --help` is built from this table, the command line refuses
an option given for a model it does not apply to by it, and each task's
`make_settings` (`tfzoo.tasks`) takes its defaults from it, so the
command line and Python agree. A default is a value, a value per model
(`PerModel`), or `PRESET`: the model's preset says (`tfzoo.presets`).

Pure data with no TensorFlow import: the command line reads it before
anything heavy loads.
"""

from typing import NamedTuple, Optional

from tfzoo.choices import (MODELS, NGRAM_SMOOTHINGS, OPTIMIZERS, PRECISIONS,
                           QUOTING, STRATEGIES, TASKS, TOKENIZERS,
                           check_choice)
from tfzoo.presets import (DEFAULT_PRESETS, SUBWORD_PRESETS, default_preset,
                           get_preset, preset_default)

PRESET = "the preset's"  # a default that the model's preset gives


class PerModel(dict):
    """A default that depends on the model: `{model: value}`."""


class Option(NamedTuple):
    """One option of `tfzoo train`.

    Attributes:
        name: str, the setting's name (a `make_settings` keyword and a
            `run.json` key), or the command line's own name for options
            that are no setting (`out`, `overwrite`, `strategy`, ...).
        flags: tuple of str, the command-line flags; the first is the
            option's name in messages.
        models: tuple of str, the models (`tfzoo.choices.MODELS`) it
            applies to.
        default: a value, `PerModel`, `PRESET`, or None (none).
        help: str, for `--help` (the default is added to it).
        type: the argument's type (`str`, `int`, `float`, `"positive"`
            for an int of at least 1, `"list"` for comma-separated names,
            or `bool` for a flag).
        choices: tuple of str or None.
        group: str or None, the `--help` section.
        setting: bool, whether the option is a setting of the run
            (recorded in `run.json`).
    """

    name: str
    flags: tuple
    models: tuple
    default: object
    help: str
    type: object = str
    choices: Optional[tuple] = None
    group: Optional[str] = None
    setting: bool = True


LANGUAGE_MODELS = TASKS["language_model"]
# The projections LoRA adapts (tfzoo.models.lora.TARGETS).
LORA_TARGETS = ("query", "key", "value", "attention_output", "mlp")
NEURAL_LANGUAGE_MODELS = ("gpt", "lstm")
CLASSIFIERS = TASKS["classification"]
TRANSLATION_MODELS = TASKS["translation"]
NEURAL = tuple(model for model in MODELS if model != "ngram")
READS_TEXT = LANGUAGE_MODELS + TASKS["masked_lm"]  # --data: plain text
READS_TABLES = CLASSIFIERS + TRANSLATION_MODELS  # --train: TSV/CSV rows
# XLA on by default, and text samples or translations in TensorBoard.
XLA_BY_DEFAULT = WRITES_SAMPLES = NEURAL_LANGUAGE_MODELS + TRANSLATION_MODELS

_default_presets = ", ".join(
    f"{preset} for {model}" + (
        f" ({SUBWORD_PRESETS[model]} with --tokenizer subword)"
        if model in SUBWORD_PRESETS else "")
    for model, preset in DEFAULT_PRESETS.items())

TRAIN_OPTIONS = (
    Option("model", ("--model",), MODELS, "gpt",
           "what to train: a language model (gpt, lstm, or the counted "
           "n-gram baseline: ngram), a classifier, a BERT encoder by "
           "masked-LM pretraining (bert-mlm), or a translation model "
           "(seq2seq: the encoder-decoder Transformer; lstm-seq2seq: LSTMs "
           "with attention)", choices=MODELS),
    Option("preset", ("--preset",), NEURAL, None,
           "the model's size and training recipe (see tfzoo.presets); "
           f"default: {_default_presets}"),
    Option("data", ("--data",), READS_TEXT, None,
           "the training text: a text file, a folder of text files, or a "
           "TFDS name such as tiny_shakespeare (bert-mlm: one example per "
           "line)"),
    Option("data", ("--train",), READS_TABLES, None,
           "labelled examples (classifiers) or sentence pairs (translation): "
           "a TSV/CSV file or a TFDS name such as glue/sst2"),
    Option("validation_data", ("--val",), MODELS, None,
           "validation data, in the form the task trains on; language "
           "models and bert-mlm validate on the last --validation-fraction "
           "of --data without it"),
    Option("validation_fraction", ("--validation-fraction",), READS_TEXT,
           0.1, "without --val: the last fraction of --data's characters "
           "used for validation (TFDS datasets use their own split)",
           type=float),
    Option("data_dir", ("--data-dir",), MODELS, None,
           "folder where relative data paths and TFDS manual downloads are "
           "looked up (default: $TFZOO_DATA_DIR)", setting=False),
    # Language models.
    Option("tokenizer", ("--tokenizer",), LANGUAGE_MODELS, "char",
           "one id per character, or SentencePiece subwords trained on the "
           "text", choices=TOKENIZERS),
    Option("vocabulary_size", ("--vocab-size",), MODELS, PRESET,
           "subword (or WordPiece) vocabulary size; 2000 for a preset "
           "that names none", type="positive"),
    Option("optimizer", ("--optimizer",), NEURAL_LANGUAGE_MODELS, PRESET,
           "adamw, or muon for the weight matrices and adamw for the rest; "
           "the other models train with adamw", choices=OPTIMIZERS),
    # The n-gram baseline.
    Option("order", ("--order",), ("ngram",), 5,
           "n: each token is conditioned on the n-1 before it",
           type="positive", group="n-gram"),
    Option("smoothing", ("--smoothing",), ("ngram",), "kneser_ney",
           "kneser_ney: interpolated modified Kneser-Ney (Chen & Goodman "
           "1998); add_k: (count + k) / (context count + k V)",
           choices=NGRAM_SMOOTHINGS, group="n-gram"),
    Option("k", ("--add-k",), ("ngram",), 1.0,
           "add_k's pseudo-count k (with --smoothing add_k)", type=float,
           group="n-gram"),
    # Tables: classifiers and translation.
    Option("text_column", ("--text-column",), CLASSIFIERS, "sentence",
           "column of the text", group="classifiers"),
    Option("label_column", ("--label-column",), CLASSIFIERS, "label",
           "column of the label", group="classifiers"),
    Option("pair_column", ("--pair-column",), CLASSIFIERS, None,
           "column of the second text of a pair", group="classifiers"),
    Option("labels", ("--labels",), CLASSIFIERS, None,
           "comma-separated class names, in label-id order (default: the "
           "training labels, sorted)", type="list", group="classifiers"),
    Option("init", ("--init",), ("gpt", "bert-classifier"), None,
           "start from a pretrained model instead of from scratch: for gpt "
           "an imported run (tfzoo import) or any source tfzoo import "
           "reads, fine-tuned with its own tokenizer and architecture; for "
           "bert-classifier a Hugging Face BERT checkpoint folder or a "
           "tfzoo classifier or bert-mlm run", group="fine-tuning"),
    Option("lora_rank", ("--lora-rank",), ("gpt",), None,
           "with --init: train low-rank adapters of this rank (LoRA) on "
           "--lora-targets, every base weight frozen; without it every "
           "weight is fine-tuned", type=int, group="fine-tuning"),
    Option("lora_alpha", ("--lora-alpha",), ("gpt",), None,
           "with --lora-rank: the adapters are scaled by alpha / rank "
           "(default: the rank)", type=float, group="fine-tuning"),
    Option("lora_targets", ("--lora-targets",), ("gpt",), None,
           "with --lora-rank: the projections that get adapters, from "
           f"{', '.join(LORA_TARGETS)} (default: query,value)",
           type="list", group="fine-tuning"),
    Option("skip_bad_rows", ("--skip-bad-rows",), READS_TABLES + ("gpt",),
           False, "skip (and count) rows with more or fewer fields than the "
           "header (gpt: .jsonl lines that are no conversation) instead of "
           "refusing the file", type=bool, group="tables"),
    Option("quoting", ("--quoting",), READS_TABLES, "auto",
           "csv: quoted fields as spreadsheets write them; none: quotes are "
           "literal text; auto: csv, or none when only that reads every "
           "row", choices=QUOTING, group="tables"),
    Option("source_column", ("--source-column",), TRANSLATION_MODELS, "en",
           "column of the source sentence", group="translation"),
    Option("target_column", ("--target-column",), TRANSLATION_MODELS, "de",
           "column of the target sentence", group="translation"),
    Option("label_smoothing", ("--label-smoothing",), TRANSLATION_MODELS,
           0.1, "share of the target probability spread over the "
           "vocabulary", type=float, group="translation"),
    # The schedule.
    Option("epochs", ("--epochs",), NEURAL, PerModel(
        {model: 3 if model in CLASSIFIERS else 1 for model in NEURAL}),
           "passes over the training data (or of --steps-per-epoch steps)",
           type="positive", group="schedule"),
    Option("steps", ("--steps",), NEURAL, None,
           "optimizer steps in all, instead of --epochs: whole epochs and a "
           "shorter last one", type="positive", group="schedule"),
    Option("steps_per_epoch", ("--steps-per-epoch",), NEURAL, None,
           "default: one pass over the training data", type="positive",
           group="schedule"),
    Option("batch_size", ("--batch-size",), NEURAL, PRESET,
           "batch of each replica; a step's global batch is this times the "
           "replicas", type="positive", group="schedule"),
    Option("global_batch_size", ("--global-batch-size",), NEURAL, None,
           "batch of a whole step, divided among the replicas (keeps a "
           "recipe the same on any number of devices)", type="positive",
           group="schedule"),
    Option("learning_rate", ("--learning-rate",), NEURAL, PRESET,
           "peak learning rate (5e-5 for bert-classifier with --init)",
           type=float, group="schedule"),
    Option("warmup_steps", ("--warmup-steps",), NEURAL, PRESET,
           "optimizer steps of linear warmup; none in the preset: a tenth "
           "of the run", type=int, group="schedule"),
    Option("weight_decay", ("--weight-decay",), NEURAL, PerModel(
        {model: 0.1 if model in NEURAL_LANGUAGE_MODELS else 0.01
         for model in NEURAL}), "decoupled weight decay of the kernels",
           type=float, group="schedule"),
    Option("clip_norm", ("--clip-norm",), NEURAL, 1.0,
           "global gradient norm clip", type=float, group="schedule"),
    # The model.
    Option("max_sequence_length", ("--max-sequence-length",
                                   "--context-length", "--max-length"),
           NEURAL, PRESET,
           "longest sequence the model reads, in tokens (source and target "
           "each for translation; [CLS] and [SEP] included for BERT), "
           "longer texts truncated", type="positive"),
    Option("dropout", ("--dropout",), NEURAL, PRESET, "dropout rate",
           type=float),
    Option("seed", ("--seed",), NEURAL, 1337,
           "seeds the weights, the data order and dropout", type=int),
    Option("deterministic", ("--deterministic",), NEURAL, False,
           "make every op deterministic "
           "(tf.config.experimental.enable_op_determinism): with --seed, two "
           "runs give bit-identical losses; some ops get slower", type=bool,
           setting=False),
    Option("jit_compile", ("--no-xla",), NEURAL, PerModel(
        {model: model in XLA_BY_DEFAULT for model in NEURAL}),
           "do not compile the training step with XLA (XLA is always off "
           "under mirrored and multiworker; classifiers and bert-mlm train "
           "without it, their bucketed shapes cost more compiling than it "
           "saves)", type=bool),
    Option("sample_every", ("--sample-every",), WRITES_SAMPLES, 500,
           "steps between text samples or translations in TensorBoard (0: "
           "only at the end)", type=int, setting=False),
    # Where training runs.
    Option("strategy", ("--strategy",), NEURAL, "auto",
           "auto: a TPU if one is found, else mirrored over several GPUs, "
           "else default (one device); multiworker reads TF_CONFIG",
           choices=STRATEGIES, group="distribution", setting=False),
    Option("tpu", ("--tpu",), NEURAL, None,
           "TPU name or grpc://host:port; leave it out on a TPU VM (its "
           "local TPU)", group="distribution", setting=False),
    Option("cpu_devices", ("--cpu-devices",), NEURAL, None,
           "split the CPU into this many logical devices, to try --strategy "
           "mirrored without GPUs", type="positive", group="distribution",
           setting=False),
    Option("precision", ("--precision",),
           tuple(m for m in NEURAL if m != "bert-mlm"), "float32",
           "mixed_*: compute in 16 bits, keep weights and logits in float32 "
           "(float16 on GPUs, bfloat16 on TPUs, recent GPUs and CPUs)",
           choices=PRECISIONS, group="distribution"),
    # The run folder.
    Option("out", ("--out",), MODELS, None, "the run folder (required)",
           setting=False),
    Option("overwrite", ("--overwrite",), MODELS, False,
           "replace a different run in --out", type=bool, setting=False),
)

# The options each model needs, by model: the training data, and
# validation data where no fraction of it can serve.
REQUIRED = {model: ("--train", "--val") if model in READS_TABLES
            else ("--data",) for model in MODELS}


def options_of(model):
    """The settings options (`Option`s with `setting=True`) that apply to
    `model`, one per setting name."""
    found = {}
    for option in TRAIN_OPTIONS:
        if option.setting and model in option.models:
            found.setdefault(option.name, option)
    return list(found.values())


def default_of(option, model):
    """The default of `option` for `model`: a value, or `PRESET`."""
    if isinstance(option.default, PerModel):
        return option.default.get(model)
    return option.default


def describe_default(option):
    """The default in words, for `--help`; None where there is none."""
    default = option.default
    if option.type is bool or default is None:
        return None
    if isinstance(default, PerModel):
        values = {}
        for model in option.models:
            values.setdefault(default.get(model), []).append(model)
        if len(values) == 1:
            return str(next(iter(values)))
        return "; ".join(f"{value} for {', '.join(models)}"
                         for value, models in values.items())
    return str(default)


def resolve_settings(model, given):
    """The settings of a run of `model`: each option that applies to it,
    as `given`, else its default.

    Args:
        model: str, one of `tfzoo.choices.MODELS`.
        given: dict `{setting name: value}`; `None` means "not given".
            A `PRESET` default comes from `given["preset"]` or the model's
            default preset.

    Returns:
        dict `{setting name: value}` with every setting of `model` (see
        `options_of`); `preset` is the preset's name (None for the
        n-gram model).

    Raises:
        ValueError: a setting that does not apply to `model`; an unknown
            preset, or a preset of another model; both `epochs` and
            `steps`; both `validation_data` and `validation_fraction`.
    """
    options = options_of(model)
    names = {option.name for option in options}
    stray = sorted(name for name, value in given.items()
                   if value is not None and name not in names)
    if stray:
        raise ValueError(f"--model {model} takes no "
                         f"{', '.join(stray)}")
    if given.get("epochs") is not None and given.get("steps") is not None:
        raise ValueError("give --epochs or --steps, not both")
    if (given.get("batch_size") is not None
            and given.get("global_batch_size") is not None):
        raise ValueError("give --batch-size or --global-batch-size, not both")
    if (given.get("validation_data") is not None
            and given.get("validation_fraction") is not None):
        raise ValueError("give --val or --validation-fraction, not both")
    spec = None
    if "preset" in names:
        preset = given.get("preset") or default_preset(
            model, given.get("tokenizer") or "char")
        spec = get_preset(preset)
        if spec["model"] != model:
            raise ValueError(f"preset {preset!r} is a {spec['model']} "
                             f"model, not {model}")
    _check_fine_tuning(given)
    settings = {}
    for option in options:
        value = given.get(option.name)
        if value is None:
            value = default_of(option, model)
            if value == PRESET:
                value = preset_default(spec or {"arguments": {}},
                                       option.name)
        settings[option.name] = value
    settings["model"] = model
    if "preset" in names:
        settings["preset"] = preset
    for option in options:
        if option.choices and settings[option.name] is not None:
            check_choice(option.name.replace("_", " "),
                         settings[option.name], option.choices)
    if settings.get("steps") is not None:
        settings["epochs"] = None  # the steps decide the epochs
    if "validation_fraction" in settings and (
            settings["validation_data"] is not None):
        settings["validation_fraction"] = None  # --val validates whole
    return settings


def _check_fine_tuning(given):
    """The LoRA options, checked: they need `--init` and `--lora-rank`, a
    rank of at least 1 and known projections."""
    lora = [name for name in ("lora_rank", "lora_alpha", "lora_targets")
            if given.get(name) is not None]
    if lora and given.get("init") is None:
        raise ValueError(f"--{lora[0].replace('_', '-')} needs --init: LoRA "
                         "adapts a pretrained model")
    if lora and given.get("lora_rank") is None:
        raise ValueError(f"--{lora[0].replace('_', '-')} needs --lora-rank")
    if given.get("lora_rank") is not None and given["lora_rank"] < 1:
        raise ValueError(f"--lora-rank must be at least 1, got "
                         f"{given['lora_rank']}")
    if given.get("lora_alpha") is not None and given["lora_alpha"] <= 0:
        raise ValueError(f"--lora-alpha must be positive, got "
                         f"{given['lora_alpha']}")
    for target in given.get("lora_targets") or ():
        check_choice("--lora-targets projection", target, LORA_TARGETS)
