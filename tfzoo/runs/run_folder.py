"""The run folder: what a training run writes, and the rules that keep it.

    runs/NAME/
      run.json          the settings that define the run, its `task` first
      tokenizer.json    the tokenizer (and tokenizer.spm for subwords), or
                        vocab.txt and preprocessor.json for BERT runs
      checkpoints/      epoch_001.keras, epoch_002.keras, ...
      backup/           the state to resume from while a run is unfinished:
                        epoch_NNN.weights.h5 and training_metadata.json
      logs/             TensorBoard logs and history.csv
      model.keras       the trained model, written last (a LoRA run:
                        adapters.npz, the adapters only, and its
                        checkpoints and backups adapters too)

Rerunning the command of an unfinished run resumes it; a folder that holds
a different run, or something that is not a run, is never touched unless
`overwrite=True` (and a non-run folder not even then).

A kill at any moment leaves a run that resumes to the same weights: every
file is written beside its final name and renamed into place, and at the
end of each epoch the history row, the checkpoint and last the backup are
written in that order, so that the backup (which the resume reads first)
never runs ahead of the rest. A damaged backup (one written by an older
tfzoo, or spoilt on disk) falls back to the newest good checkpoint, with a
note (`resume_point`).
"""

import collections
import hashlib
import json
import os
import re
import shutil
import signal
import zipfile

RUN_FILE = "run.json"
MODEL_FILE = "model.keras"
NGRAM_FILE = "ngram.npz"  # an n-gram run's counts, written last
# A LoRA run's adapters (and no copy of its base), written last.
ADAPTERS_FILE = "adapters.npz"
BACKUP_DIR = "backup"
BACKUP_METADATA_FILE = "training_metadata.json"
CHECKPOINT_DIR = "checkpoints"
# Backups written before tfzoo named the weights file in the metadata.
OLD_BACKUP_WEIGHTS_FILE = "latest.weights.h5"
_CHECKPOINT_NAME = re.compile(r"^epoch_(\d+)\.keras$")


def run_path(run_dir, *parts):
    return os.path.join(run_dir, *parts)


def read_settings(run_dir, upgrade=None):
    """The settings stored in `run_dir`, in today's names (see
    `upgrade_settings`).

    Args:
        run_dir: str, a run folder.
        upgrade: callable or None: the run's task's `upgrade_settings`
            (the settings that task added since), applied after the
            renames.

    Raises:
        ValueError: `run_dir` holds no `run.json`.
    """
    path = run_path(run_dir, RUN_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"{run_dir} is not a tfzoo run folder (no {RUN_FILE})")
    with open(path) as f:
        return upgrade_settings(json.load(f), upgrade)


def upgrade_settings(settings, upgrade=None):
    """Settings written by an older tfzoo, in today's names; `upgrade`
    (a task's `upgrade_settings`) then adds what that task added since.

    - A run without `task` is a language model's (they were told apart by
      its absence).
    - `context_length` (language models) and `max_length` (classifiers,
      MLM) are now `max_sequence_length`; classifiers' and translation
      runs' `train` and `validation` are `data` and `validation_data`, as
      for every task.
    - Classifier and MLM runs had `warmup_fraction` 0.1; now `warmup_steps`
      `None` means the same (a tenth of the run). Another fraction (only
      the Python API could set one) stays as it is: such a run loads, but
      does not resume (`lifecycle.compile_for_training` says so).
    """
    settings = dict(settings)
    settings.setdefault("task", "language_model")
    for old, new in (("context_length", "max_sequence_length"),
                     ("max_length", "max_sequence_length"),
                     ("train", "data"), ("validation", "validation_data")):
        if old in settings:
            settings[new] = settings.pop(old)
    if settings.get("warmup_fraction") == 0.1:
        del settings["warmup_fraction"]
        settings.setdefault("warmup_steps", None)
    return upgrade(settings) if upgrade else settings


def check_run_folder(run_dir, settings, overwrite=False, upgrade=None):
    """Checks `run_dir` against `settings` without writing; returns what
    training should do (`start_run_folder` then starts a new run). Both
    are compared in today's form (`upgrade_settings`, with the task's
    `upgrade`).

    Returns:
        `"new"` (the folder is new, empty or holds only the `run.json.tmp`
        of a killed start, or is to be cleared because of `overwrite`),
        `"resume"` (it holds an unfinished run with the same
        settings) or `"complete"` (it holds a finished run with the same
        settings).

    Raises:
        ValueError: the folder holds a different run or is not a run folder.
    """
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise ValueError(f"{run_dir} exists and is not a folder")
    # A run killed while writing its first run.json leaves only the
    # temporary file: nothing of it was written yet.
    if not os.path.isdir(run_dir) or set(os.listdir(run_dir)) <= {
            RUN_FILE + ".tmp"}:
        return "new"
    if not os.path.isfile(run_path(run_dir, RUN_FILE)):
        raise ValueError(
            f"{run_dir} is not empty and is not a tfzoo run folder; "
            "choose another --out"
        )
    if overwrite:
        return "new"
    stored = read_settings(run_dir, upgrade)
    settings = upgrade_settings(settings, upgrade)
    differences = sorted(
        key
        for key in set(stored) | set(settings)
        if stored.get(key) != settings.get(key)
    )
    if differences:
        raise ValueError(
            f"{run_dir} holds a different run (it differs in "
            f"{', '.join(differences)}); use --overwrite to replace it or "
            "choose another --out"
        )
    if os.path.isfile(run_path(run_dir, model_file(stored))):
        return "complete"
    return "resume"


def model_file(settings):
    """The file a finished run writes last: `model.keras`, an n-gram
    run's `ngram.npz`, or a LoRA run's `adapters.npz`."""
    if settings.get("model") == "ngram":
        return NGRAM_FILE
    return ADAPTERS_FILE if settings.get("lora_rank") else MODEL_FILE


def start_run_folder(run_dir, settings):
    """Clears `run_dir` (a folder `check_run_folder` found `"new"`) and
    writes the run's settings into it."""
    if os.path.isdir(run_dir) and os.listdir(run_dir):
        shutil.rmtree(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    write_json_atomically(run_path(run_dir, RUN_FILE), settings, kind="run")


def write_json_atomically(path, value, kind=None):
    """Writes `value` as JSON to `path`, whole or not at all.

    Args:
        kind: str or None, names the write for `crash_point`.
    """
    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        json.dump(value, f, indent=1, ensure_ascii=False)
    crash_point(kind, temporary)
    os.replace(temporary, path)


def save_model_atomically(model, path, kind="model"):
    """Saves a `.keras` file so that a crash never leaves half of one: it is
    written as `NAME.partial.keras` and renamed.

    Args:
        kind: str, names the write for `crash_point` (`"model"` or
            `"checkpoint"`).
    """
    temporary = path[: -len(".keras")] + ".partial.keras"
    model.save(temporary)
    crash_point(kind, temporary)
    os.replace(temporary, path)


def remove_backup(run_dir):
    """Removes the backup of a run whose `model.keras` is written."""
    shutil.rmtree(run_path(run_dir, BACKUP_DIR), ignore_errors=True)


def file_digest(path):
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


ResumePoint = collections.namedtuple(
    "ResumePoint", ["epoch", "weights", "note", "random_states"],
    defaults=[None])
ResumePoint.__doc__ = """Where an unfinished run resumes.

Fields:
    epoch: int, the number of epochs already done (0: from the start).
    weights: str or None, the backup's `.weights.h5` or a checkpoint's
        `.keras` file to load (weights and optimizer state).
    note: str or None, one line saying that the backup was missing or
        damaged and what the run resumes from instead.
    random_states: list or None, the states of the model's random number
        generators the backup kept (`callbacks.random_states`); None
        where it kept none (a checkpoint, an older backup).
"""


def resume_point(run_dir):
    """Where the unfinished run in `run_dir` resumes: from its backup; if
    that is missing or damaged, from the newest good checkpoint; else from
    the start. Reads files only, so that the data pipeline (`backup_epoch`)
    and the restoring callback always agree.
    """
    backup_dir = run_path(run_dir, BACKUP_DIR)
    epoch, weights, problem, states = _read_backup(backup_dir)
    if not problem:
        return ResumePoint(epoch, weights, None, states)
    if problem == "missing":
        said = f"{backup_dir} holds no backup"
    else:
        said = f"the backup in {backup_dir} is damaged ({problem})"
    for epoch, path in reversed(_checkpoints(run_dir)):
        if _is_whole_keras_file(path):
            where = os.path.relpath(path, run_dir)
            return ResumePoint(epoch, path, f"{said}; resuming from {where}")
    if problem == "missing":
        return ResumePoint(0, None, None)  # no epoch ended yet
    return ResumePoint(0, None, f"{said}; starting again from the first "
                                "epoch (no good checkpoint)")


def backup_epoch(run_dir):
    """The epoch a resumed run starts at (see `resume_point`)."""
    return resume_point(run_dir).epoch


def _read_backup(backup_dir):
    """`(epoch, weights path, None, random states)` for a good backup,
    else `(0, None, problem, None)`; `problem` is `"missing"` when there is
    none."""
    metadata_path = os.path.join(backup_dir, BACKUP_METADATA_FILE)
    if not os.path.isfile(metadata_path):
        return 0, None, "missing", None
    try:
        with open(metadata_path) as f:
            metadata = json.load(f)
        epoch = int(metadata["epoch"])
        name = os.path.basename(metadata.get("weights",
                                             OLD_BACKUP_WEIGHTS_FILE))
    except (OSError, ValueError, KeyError, TypeError) as error:
        return 0, None, f"{BACKUP_METADATA_FILE}: {_one_line(error)}", None
    weights = os.path.join(backup_dir, name)
    if not os.path.isfile(weights):
        return 0, None, f"{name} is missing", None
    if "sha256" in metadata:
        if file_digest(weights) != metadata["sha256"]:
            return 0, None, f"{name} does not match its checksum", None
    else:  # an older tfzoo's backup: at least the file must open
        import h5py

        try:
            h5py.File(weights, "r").close()
        except OSError as error:
            return 0, None, f"{name}: {_one_line(error)}", None
    return epoch, weights, None, metadata.get("random_states")


def _checkpoints(run_dir):
    """`[(epoch, path)]` of the run's epoch checkpoints, oldest first."""
    folder = run_path(run_dir, CHECKPOINT_DIR)
    if not os.path.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        match = _CHECKPOINT_NAME.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(folder, name)))
    return sorted(found)


def _is_whole_keras_file(path):
    """Whether `path` is a readable `.keras` archive with its weights."""
    try:
        with zipfile.ZipFile(path) as archive:
            return (archive.testzip() is None
                    and "model.weights.h5" in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _one_line(error):
    return " ".join(str(error).split())


# A test hook, for tests only: TFZOO_TEST_KILL_DURING=KIND[:N] kills this
# process with SIGKILL during its N-th (default: first) write of KIND, as
# a crash or an out-of-memory kill would: the temporary file is cut to half
# its size and never renamed. KIND is one of run (run.json), backup,
# backup-metadata, checkpoint, history (just after an epoch's row) and
# model.
_writes_seen = collections.Counter()


def crash_point(kind, temporary=None):
    """The test hook: see above. Does nothing unless the variable names
    `kind`."""
    wanted, _, count = os.environ.get("TFZOO_TEST_KILL_DURING",
                                      "").partition(":")
    if not kind or wanted != kind:
        return
    _writes_seen[kind] += 1
    if _writes_seen[kind] == int(count or 1):
        if temporary:
            os.truncate(temporary, os.path.getsize(temporary) // 2)
        os.kill(os.getpid(), signal.SIGKILL)
