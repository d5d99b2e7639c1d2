"""`tfzoo plot`: a run's training curves (and its task's plots) as PNGs."""

import os

from tfzoo.cli.common import (add_command, add_data_dir,
                              check_run_folder_exists)


def add_parser(subparsers):
    parser = add_command(
        subparsers, "plot",
        help="plot a run's training curves (and confusion matrix)",
        description="Write PNGs: training and validation curves per epoch "
        "from logs/history.csv, and for classifiers the confusion matrix "
        "on the validation data.", handler=plot)
    parser.add_argument("--run", required=True, help="the run folder")
    parser.add_argument("--out", help="default: RUN/plots")
    add_data_dir(parser)


def plot(args):
    """The handler: `plot_curves`, then the run's task's `plots`."""
    settings = check_run_folder_exists(args.run)
    from tfzoo.tasks.catalog import task_of
    from tfzoo.training.plots import plot_curves

    out_dir = args.out or os.path.join(args.run, "plots")
    paths = [plot_curves(args.run, out_dir)]
    paths += task_of(settings).plots(args.run, out_dir, args.data_dir)
    for path in paths:
        print(f"Wrote {path}")
