"""`tfzoo tensorboard`: TensorBoard on run folders, without its start-up
chatter."""

import importlib.util
import os

from tfzoo.cli.common import add_command, check_run_folder_exists


def add_parser(subparsers):
    parser = add_command(
        subparsers, "tensorboard",
        help="watch runs in TensorBoard (loss, perplexity, samples, graph)",
        description="Serve TensorBoard on the logs of one run folder or "
        "several (each named by its folder), until Ctrl+C. The same as "
        "`tensorboard --logdir RUN/logs`, less the lines TensorFlow writes "
        "at start on a machine without a GPU.", handler=tensorboard)
    parser.add_argument("--run", required=True, nargs="+",
                        help="the run folder(s)")
    parser.add_argument("--port", type=int, default=6006,
                        help="the port to serve on (0: any free port)")
    parser.add_argument("--host", default="localhost",
                        help="the address to serve on (0.0.0.0: every "
                        "network interface)")


def tensorboard(args):
    """The handler: TensorBoard's own program, run in this process (so the
    `tfzoo` command's stderr filter sees what TensorFlow writes)."""
    for run_dir in args.run:
        check_run_folder_exists(run_dir)
    from tensorboard import default, program

    # The fast loader when it is installed, named, so that TensorBoard does
    # not print its "experimental fast data loading" note.
    fast = importlib.util.find_spec("tensorboard_data_server") is not None
    board = program.TensorBoard(plugins=default.get_plugins())
    board.configure(argv=[
        "tensorboard", *logdir_flag(args.run), f"--port={args.port}",
        f"--host={args.host}", f"--load_fast={str(fast).lower()}"])
    board.main()


def logdir_flag(run_dirs):
    """TensorBoard's flag for the logs of `run_dirs`: `--logdir` for one,
    `--logdir_spec NAME:PATH,...` for several (each named by its folder's
    name)."""
    logs = [os.path.join(run_dir, "logs") for run_dir in run_dirs]
    if len(logs) == 1:
        return [f"--logdir={logs[0]}"]
    names = [os.path.basename(os.path.normpath(run_dir))
             for run_dir in run_dirs]
    return ["--logdir_spec=" + ",".join(
        f"{name}:{path}" for name, path in zip(names, logs))]
