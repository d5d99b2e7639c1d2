"""The `tfzoo` program: its commands, and how it answers errors."""

import contextlib
import os
import sys

from tfzoo.cli import (chat, classify, evaluate, export, generate,
                       import_pretrained, plot, tensorboard, train,
                       translate)
from tfzoo.cli.common import PROGRAM, Parser
from tfzoo.console import quiet_native_logs
from tfzoo.data.sources import check_data_dir

# Keep TensorFlow's start-up chatter off the terminal unless asked for.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

COMMANDS = (train, tensorboard, evaluate, generate, chat, translate,
            classify, plot, export, import_pretrained)


def build_parser():
    """The parser of every command (each module's `add_parser`)."""
    parser = Parser(
        prog=PROGRAM,
        description="tfzoo: Keras 3 language models (GPT, LSTM, BERT, "
        "encoder-decoder translation) and pretrained LLMs: train with "
        "model.fit, evaluate, generate, chat, translate, export for TF "
        "Serving.",
    )
    parser.add_argument("--version", action="version",
                        version=f"{PROGRAM} {version()}")
    subparsers = parser.add_subparsers(title="commands", required=True,
                                       dest="command_name")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def version():
    """The installed package's version (its metadata), else the source
    tree's."""
    from importlib import metadata

    try:
        return metadata.version(PROGRAM)
    except metadata.PackageNotFoundError:
        from tfzoo import __version__

        return __version__


# Commands that draw nothing: Keras imports matplotlib.pyplot when it can
# (keras.visualization, about a second), so they hide it while they run.
NO_PLOTS = ("generate", "translate", "classify", "chat")


@contextlib.contextmanager
def without_plotting(hide=True):
    """Makes `import matplotlib` fail inside the `with` block (if `hide`
    and matplotlib is not imported yet): Keras then leaves it out."""
    if not hide or "matplotlib" in sys.modules:
        yield
        return
    sys.modules["matplotlib"] = None
    try:
        yield
    finally:
        if sys.modules.get("matplotlib", 0) is None:
            del sys.modules["matplotlib"]


def main(argv=None):
    """Entry point of the `tfzoo` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "data_dir"):  # before TensorFlow loads
            check_data_dir(args.data_dir)
        with quiet_native_logs(), without_plotting(
                getattr(args, "command_name", None) in NO_PLOTS):
            args.command(args)
    except (ValueError, OSError) as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        after = (train.after_interrupt(args)
                 if args.command_name == "train" else "")
        print(f"\n{PROGRAM}: interrupted{after}", file=sys.stderr)
        return 130  # 128 + SIGINT, as shells report it
    except RuntimeError as error:
        from tfzoo.training.callbacks import TrainingDiverged
        from tfzoo.training.distribute import WorkerLost

        if not isinstance(error, (TrainingDiverged, WorkerLost)):
            raise
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 1
    return 0


def console_main():
    sys.exit(main())
