"""Version folders of an exported model, and the hidden folders exports
write into: plain file-system rules, no TensorFlow (the command line
checks a model name before anything heavy loads).

    saved_models/NAME/
      1/  2/  ...                        versions, the highest served
      .partial-VERSION-PID-START-HOST-RANDOM
                                         an export being written (or
                                         killed while writing)
"""

import os
import re
import shutil
import socket

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# .partial-VERSION-PID-START-HOST-RANDOM (mkdtemp's RANDOM has no "-").
_PARTIAL = re.compile(r"^\.partial-\d+-(\d+)-(\d+)-(.+)-[^-]+$")


def check_model_name(name):
    """`ValueError` unless `name` is a valid model folder name."""
    if not _NAME.match(name):
        raise ValueError(
            f"invalid model name {name!r}: use letters, digits, '.', '_' "
            "and '-', starting with a letter or digit"
        )


def next_version(model_dir):
    """1 + the highest integer version folder in `model_dir` (1 if none)."""
    return max(versions(model_dir), default=0) + 1


def versions(model_dir):
    """The integer version folders in `model_dir`."""
    if not os.path.isdir(model_dir):
        return []
    return [int(n) for n in os.listdir(model_dir) if n.isdigit()]


def partial_prefix(version, pid=None):
    """The start of the name of the hidden folder that an export of
    `version` by process `pid` (default: this one) writes into."""
    pid = os.getpid() if pid is None else pid
    return f".partial-{version}-{pid}-{_start_time(pid)}-{_host()}-"


def remove_stale_partials(model_dir):
    """Removes the `.partial-*` folders in `model_dir` whose writer process
    has ended (a killed export). Keeps those whose writer lives, or may: on
    another host, or named by an older tfzoo without a process id."""
    for name in os.listdir(model_dir):
        match = _PARTIAL.match(name)
        if match and not _writer_may_live(int(match.group(1)),
                                          int(match.group(2)),
                                          match.group(3)):
            shutil.rmtree(os.path.join(model_dir, name), ignore_errors=True)


def _writer_may_live(pid, start, host):
    if host != _host():
        return True  # its processes are not ours to see
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    # The same id with another start time is a new process (ids are reused).
    now = _start_time(pid)
    return not (start and now and now != start)


def _start_time(pid):
    """When process `pid` started, in clock ticks since boot (0: unknown,
    outside Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name, in parentheses, may hold spaces.
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def _host():
    """This machine's name, as a folder name may hold it."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "host"
