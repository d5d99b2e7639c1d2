"""`tfzoo tensorboard`: TensorBoard on run folders, without its start-up
chatter."""

import os
import socket

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
    `tfzoo` command's stderr filter sees what TensorFlow writes).

    Raises:
        ValueError: a folder that is no run, or a run with no logs (n-gram
            and imported runs write none).
        OSError: the port is taken, or TensorBoard stopped with an error.
    """
    for run_dir in args.run:
        check_run_folder_exists(run_dir)
        if not os.path.isdir(os.path.join(run_dir, "logs")):
            raise ValueError(f"{run_dir} has no TensorBoard logs (n-gram and "
                             "imported runs write none)")
    check_port_is_free(args.host, args.port)
    from tensorboard import default, program

    board = program.TensorBoard(plugins=default.get_plugins())
    board.configure(argv=[
        "tensorboard", *logdir_flag(args.run), f"--port={args.port}",
        f"--host={args.host}", f"--load_fast={load_fast(args.run)}"])
    if board.main() != 0:
        raise OSError("TensorBoard stopped with an error (see the line "
                      "above)")


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


def load_fast(run_dirs):
    """TensorBoard's `--load_fast`, named so that it prints no note about
    it: `"true"` (its Rust data server) for one run where the server's
    program is installed, else `"false"` (its data server reads only
    `--logdir`, not `--logdir_spec`)."""
    try:
        from tensorboard_data_server import server_binary
    except ImportError:
        return "false"
    return "true" if len(run_dirs) == 1 and server_binary() else "false"


def check_port_is_free(host, port):
    """`OSError` in one line if `port` on `host` is taken (0 is any free
    port)."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise OSError(f"port {port} on {host} is in use; choose another "
                          "with --port") from None
