"""What every command shares: the parser that answers in one line, the
help that shows each default, and the checks that need no TensorFlow.

Only light modules are imported here (no TensorFlow), so that `--help` and
argument mistakes answer at once; each command imports what it runs.
"""

import argparse
import json
import os

PROGRAM = "tfzoo"


def positive_int(text):
    """An argparse type: an int of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class Parser(argparse.ArgumentParser):
    """Answers a bad argument in one line, without the usage text."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} "
                  "--help)\n")


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Shows each option's default once: appended where the help does not
    already say it, left out where there is none."""

    def _get_help_string(self, action):
        help = action.help or ""
        if ("default:" in help or action.default is None
                or action.default is False
                or action.default is argparse.SUPPRESS or action.required
                or not action.option_strings):
            return help
        return f"{help} (default: {action.default})".strip()


def add_command(subparsers, name, help, description, handler):
    """A `tfzoo NAME` parser whose --help shows each option's default, run
    by `handler(args)`."""
    parser = subparsers.add_parser(
        name,
        help=help,
        description=description,
        formatter_class=DefaultsHelpFormatter,
    )
    parser.set_defaults(command=handler)
    return parser


def add_data_dir(parser):
    parser.add_argument(
        "--data-dir",
        help="folder where relative data paths and TFDS manual downloads "
        "are looked up (default: $TFZOO_DATA_DIR)",
    )


def add_end_token(parser):
    parser.add_argument(
        "--end-token",
        help="stop a text after this token (one token; backslash escapes "
        "such as \\n are read)",
    )


def add_sampling_options(parser, temperature, seed_help):
    """The options of sampling and of the decoding loop, shared by
    `generate` and `translate` (`temperature`: the default)."""
    parser.add_argument("--temperature", type=float, default=temperature,
                        help="0 or less: greedy decoding; above 0: sample")
    parser.add_argument("--top-k", type=int, default=0,
                        help="sample among the k most likely tokens (0: all)")
    parser.add_argument("--top-p", type=float, default=1.0,
                        help="sample within the nucleus of this mass, (0, 1]")
    parser.add_argument("--seed", type=int, help=seed_help)
    parser.add_argument("--no-cache", action="store_true",
                        help="re-run the whole model at every step (slow; "
                        "for comparison)")
    parser.add_argument("--no-xla", action="store_true",
                        help="do not compile the decoding loop with XLA")


def check_run_folder_exists(run_dir, *tasks):
    """The settings of the run in `run_dir` (read without TensorFlow),
    checked: a run folder, of one of `tasks` (any if none is given).

    Raises:
        ValueError: no such folder, not a run folder, or a run of another
            task.
    """
    path = os.path.join(run_dir, "run.json")
    if not os.path.isdir(run_dir):
        raise ValueError(f"{run_dir} is not a tfzoo run folder (no such "
                         "folder)")
    if not os.path.isfile(path):
        raise ValueError(f"{run_dir} is not a tfzoo run folder (no "
                         "run.json)")
    with open(path) as f:
        settings = json.load(f)
    task = settings.get("task", "language_model")
    if tasks and task not in tasks:
        raise ValueError(f"{run_dir} is a {task} run; this command takes "
                         f"{' or '.join(tasks)} runs")
    return settings


def load_run(run_dir, *tasks):
    """The finished run in `run_dir`, if its task is one of `tasks` (any
    task if none is given): checked before TensorFlow loads, then loaded
    with its settings in today's form."""
    check_run_folder_exists(run_dir, *tasks)
    from tfzoo.tasks.catalog import load

    return load(run_dir)


def end_token_id(tokenizer, text):
    """The id of `--end-token`, which must be exactly one token."""
    if text is None:
        return None
    if "\\" in text:
        text = text.encode("latin-1", "backslashreplace").decode(
            "unicode_escape")
    from tfzoo.text.encoding import encode

    ids = encode(tokenizer, text)
    if len(ids) != 1:
        raise ValueError(
            f"--end-token must be one token of the run's tokenizer; "
            f"{text!r} is {len(ids)}"
        )
    return int(ids[0])
