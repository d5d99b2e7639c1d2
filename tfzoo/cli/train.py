"""`tfzoo train`: train (or resume, or find finished) a run of any model.

The parser is built from `tfzoo.train_options.TRAIN_OPTIONS`, the one
table of what each option is, which models it applies to and its default.
Every mistake that needs no TensorFlow (an option for another model, a
missing option, an unknown preset, a missing file, folder or column) is
refused before TensorFlow loads.
"""

import argparse
import json
import os

from tfzoo.choices import MODELS, TASKS, task_of
from tfzoo.cli.common import add_command, positive_int
from tfzoo.runs.run_folder import backup_epoch, model_file
from tfzoo.train_options import (REQUIRED, TRAIN_OPTIONS, describe_default,
                                 resolve_settings)

# What each kind of model is, for "--model X is ...: it takes no --Y".
KINDS = {"language_model": "a language model", "classification":
         "a classifier", "masked_lm": "a masked language model",
         "translation": "a translation model"}
GROUPS = {
    "tables": "classifiers and translation models read TSV/CSV files "
              "(--train, --val) or TFDS datasets",
    "classifiers": "bert-classifier, transformer-classifier and "
                   "lstm-classifier: labelled examples; texts longer than "
                   "--max-sequence-length tokens are truncated",
    "n-gram": "--model ngram counts n-grams of the tokens (--tokenizer char "
              "or subword) in seconds; the baseline the neural models must "
              "beat",
    "translation": "seq2seq and lstm-seq2seq: sentence pairs, one "
                   "SentencePiece vocabulary trained on both sides; pairs "
                   "longer than --max-sequence-length tokens are truncated",
    "fine-tuning": "--init: start from a pretrained model (gpt: a run "
                   "of tfzoo import, fine-tuned whole or with LoRA "
                   "adapters; see docs/pretrained.md)",
    "schedule": "how long and how fast the run trains",
    "distribution": "where training runs (see docs/distributed.md)",
}


def add_parser(subparsers):
    parser = add_command(
        subparsers, "train",
        help="train a language model, a text classifier or a translation "
        "model",
        description="Train a GPT or LSTM language model (--data), a BERT "
        "encoder by masked-LM pretraining (--data), a text classifier or a "
        "translation model (--train, --val) with model.fit, or count the "
        "n-gram baseline (--model ngram). Rerunning the same command resumes "
        "an interrupted run. Each option says which models it applies to.",
        handler=train)
    parser.usage = ("tfzoo train [--model MODEL] [--preset PRESET] "
                    "[--data DATA | --train TRAIN] [--val VAL] [options] "
                    "--out RUN")
    groups = {}
    for option in TRAIN_OPTIONS:
        group = parser
        if option.group:
            if option.group not in groups:
                groups[option.group] = parser.add_argument_group(
                    option.group, GROUPS[option.group])
            group = groups[option.group]
        _add_option(group, option)


def _dest(flag):
    return flag.lstrip("-").replace("-", "_")


def _add_option(parser, option):
    """One table row as argparse options: the first flag shown, older
    names accepted but hidden; every default None (not given), filled in
    by `make_settings`."""
    help = option.help
    default = describe_default(option)
    if "default:" not in help and default is not None:
        help += f" (default: {default})"
    if _models_in_words(option.models):
        help += f" [{_models_in_words(option.models)}]"
    arguments = {"dest": _dest(option.flags[0]), "default": None,
                 "help": help}
    if option.type is bool:  # a flag: --no-xla stores False, others True
        arguments.update(action="store_const",
                         const=not option.flags[0].startswith("--no-"))
    else:
        arguments["type"] = {"positive": positive_int,
                             "list": lambda text: text.split(",")}.get(
                                 option.type, option.type)
        if option.choices:
            arguments["choices"] = option.choices
    parser.add_argument(option.flags[0], **arguments)
    for alias in option.flags[1:]:  # the names this option had before
        parser.add_argument(alias, **{**arguments,
                                      "help": argparse.SUPPRESS})


def _models_in_words(models):
    """The models an option applies to, for --help ("" for all)."""
    if set(models) == set(MODELS):
        return ""
    if set(models) == set(MODELS) - {"ngram"}:
        return "all but ngram"
    return ", ".join(models)


def given_options(args):
    """`{flag: (option, value)}` of the table's options on the command
    line."""
    given = {}
    for option in TRAIN_OPTIONS:
        value = getattr(args, _dest(option.flags[0]))
        if value is not None:
            given[option.flags[0]] = (option, value)
    return given


def check_arguments(args):
    """The command line checked against the table, without TensorFlow.

    Returns:
        dict of the given settings (`{setting name: value}`).

    Raises:
        ValueError: `--out` missing; an option that does not apply to the
            model; a missing required option; what `resolve_settings`
            refuses; a missing file, folder or column.
    """
    model = args.model or "gpt"
    given = given_options(args)
    if args.out is None:
        raise ValueError("--out is required: the run folder")
    stray = {flag: option for flag, (option, _) in given.items()
             if model not in option.models}
    if stray:
        kind = ("counted, not trained" if model == "ngram"
                else KINDS[task_of(model)])
        raise ValueError(
            f"--model {model} is {kind}: it takes no {', '.join(stray)} ("
            + "; ".join(f"{flag} is for --model "
                        f"{' or '.join(', '.join(option.models).rsplit(', ', 1))}"
                        for flag, option in stray.items()) + ")")
    missing = [flag for flag in REQUIRED[model] if flag not in given]
    if missing:
        raise ValueError(f"--model {model} needs "
                         f"{' and '.join(REQUIRED[model])}")
    settings = {option.name: value for option, value in given.values()
                if option.setting and option.name != "model"}
    if model != "ngram" and settings.get("preset") is None:
        settings["preset"] = _preset_of_run(args.out, model)
    resolved = resolve_settings(model, settings)  # presets, pairs of options
    _check_files(model, resolved, args.data_dir)
    return settings


def _check_files(model, settings, data_dir):
    """Data paths, the data folder and table columns, checked early."""
    from tfzoo.data.sources import check_data_dir, check_source
    from tfzoo.data.table import check_columns, read_header

    check_data_dir(data_dir)
    columns = [settings.get(name) for name in (
        "text_column", "label_column", "pair_column", "source_column",
        "target_column")]
    for name in ("data", "validation_data"):
        if settings.get(name) is None:
            continue
        path = check_source(settings[name], data_dir)
        if path and os.path.isfile(path) and model in TASKS[
                "classification"] + TASKS["translation"]:
            check_columns(path, read_header(path), [c for c in columns if c])
    init = settings.get("init")
    if init and not init.startswith("hf://") and not os.path.exists(init):
        raise ValueError(f"--init {init}: no such file or folder")


def _preset_of_run(run_dir, model):
    """The preset of the `model` run already in `run_dir`, if any: rerunning
    a command without --preset resumes its run even if the default preset
    has changed since (the subword default did, to gpt-subword)."""
    try:
        with open(os.path.join(run_dir, "run.json")) as f:
            settings = json.load(f)
    except (ValueError, OSError):
        return None
    return settings.get("preset") if settings.get("model") == model else None


def start_strategy(args):
    """The strategy of `args`, set up before TensorFlow runs anything."""
    import tensorflow as tf

    from tfzoo.training.distribute import (check_precision, make_strategy,
                                           split_cpu)

    if args.cpu_devices:
        split_cpu(args.cpu_devices)
    strategy = make_strategy(args.strategy or "auto", args.tpu)
    check_precision(args.precision or "float32")
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    return strategy


def train(args):
    """The handler: checks, then `tfzoo.tasks.train`."""
    settings = check_arguments(args)
    model = args.model or "gpt"
    strategy = None if model == "ngram" else start_strategy(args)
    from tfzoo.tasks import catalog

    settings = catalog.make_settings(model, **settings)
    task = catalog.task_for(model)
    saved = os.path.join(args.out, model_file(settings))
    done_before = os.path.exists(saved) and not args.overwrite
    if task.COUNTED:
        saved = args.out
    run = catalog.train(
        settings, args.out, data_dir=args.data_dir,
        overwrite=bool(args.overwrite), strategy=strategy,
        **({} if args.sample_every is None
           else {"sample_every": args.sample_every}))
    where = f"The model is in {saved}" if done_before else (
        f"\nModel saved to {saved}")
    if run.sample is not None:
        print(f"{where}. A sample:\n\n{run.sample}\n")
    else:
        print(f"{where}; " + task.NEXT_STEP.format(run=args.out))


def after_interrupt(args):
    """What the same command does after Ctrl+C stopped `tfzoo train` with
    `args`, as the end of the line that says so."""
    if args.model == "ngram":
        return "; the same command counts it again"
    if os.path.exists(os.path.join(args.out, model_file(vars(args)))):
        return "; the run is complete"
    epoch = backup_epoch(args.out) if os.path.isdir(args.out) else 0
    if not epoch:
        return "; no epoch had ended: the same command starts the run again"
    if args.overwrite:
        return (f"; the same command starts the run again (leave out "
                f"--overwrite to resume it at epoch {epoch + 1})")
    return f"; the same command resumes the run at epoch {epoch + 1}"
