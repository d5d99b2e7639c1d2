"""`tfzoo eval`: a finished run's figures, in its task's units."""

import inspect

from tfzoo.cli.common import (add_command, add_data_dir,
                              check_run_folder_exists, positive_int)

# The options of `tfzoo eval` that go to the task's `evaluate`.
OPTIONS = ("data", "data_dir", "split", "stride", "batch_size",
           "beam_width", "limit")


def add_parser(subparsers):
    parser = add_command(
        subparsers, "eval",
        help="score a text with a run (its own validation data, or --data)",
        description="Language models: score a text whole (overlapping "
        "windows, every token but the first predicted once) and print loss "
        "and perplexity per token, bits per character, and loss and "
        "perplexity per word. Classifiers: accuracy, macro F1 and the "
        "confusion matrix. Translation: loss, BLEU and chrF.",
        handler=evaluate)
    parser.add_argument("--run", required=True, help="the run folder")
    parser.add_argument(
        "--data", help="what to score: a file or folder (language models "
        "score it whole), or a TFDS name (default: the run's validation "
        "data)")
    add_data_dir(parser)
    parser.add_argument("--split", choices=["validation", "train"],
                        help="language models: the part of the run's data, "
                        "or of a TFDS dataset, to score (default: "
                        "validation)")
    parser.add_argument("--stride", type=positive_int,
                        help="language models: tokens between scoring "
                        "windows; each token sees at least max sequence "
                        "length - stride tokens of context (default: half "
                        "the max sequence length; equal to it: windows that "
                        "do not overlap)")
    parser.add_argument("--batch-size", type=positive_int,
                        help="default: the run's (64 for translation)")
    parser.add_argument("--beam-width", type=positive_int,
                        help="translation: the beam search scored beside "
                        "greedy decoding (1: greedy only; default: 4)")
    parser.add_argument("--limit", type=positive_int,
                        help="translation: score the first N pairs only "
                        "(default: all)")


def evaluate(args):
    """The handler: the run's task's `evaluate`, then its `report`."""
    check_run_folder_exists(args.run)
    from tfzoo.tasks.catalog import load, task_of

    run = load(args.run)
    task = task_of(run.settings)
    accepted = inspect.signature(task.evaluate).parameters
    given = {name: getattr(args, name) for name in OPTIONS
             if getattr(args, name) is not None}
    stray = [f"--{name.replace('_', '-')}" for name in given
             if name not in accepted]
    if stray:
        raise ValueError(f"{args.run} is a {run.task} run; "
                         f"{', '.join(stray)} does not apply to it")
    print(task.report(task.evaluate(run, **given)))
