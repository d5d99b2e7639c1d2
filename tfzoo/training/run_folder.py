"""The run folder: what a training run writes, and the rules that keep it.

    runs/NAME/
      run.json          the settings that define the run, its `task` first
      tokenizer.json    the tokenizer (and tokenizer.spm for subwords), or
                        vocab.txt and preprocessor.json for BERT runs
      checkpoints/      epoch_001.keras, epoch_002.keras, ...
      backup/           BackupAndRestore's state while a run is unfinished
      logs/             TensorBoard logs and history.csv
      model.keras       the trained model, written last

Rerunning the command of an unfinished run resumes it; a folder that holds
a different run, or something that is not a run, is never touched unless
`overwrite=True` (and a non-run folder not even then).
"""

import json
import os
import shutil

RUN_FILE = "run.json"
MODEL_FILE = "model.keras"


def run_path(run_dir, *parts):
    return os.path.join(run_dir, *parts)


def read_settings(run_dir):
    """The settings stored in `run_dir`, in today's format (see
    `upgrade_settings`).

    Raises:
        ValueError: `run_dir` holds no `run.json`.
    """
    path = run_path(run_dir, RUN_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"{run_dir} is not a tfzoo run folder (no {RUN_FILE})")
    with open(path) as f:
        return upgrade_settings(json.load(f))


def upgrade_settings(settings):
    """Settings written by an older tfzoo, in today's names.

    - A run without `task` is a language model's (they were told apart by
      its absence).
    - `context_length` (language models) and `max_length` (classifiers,
      MLM) are now `max_sequence_length`.
    - Classifier runs had no `skip_bad_rows` (it was `False`), language
      models and MLM runs no `validation_data` (they split `data`).
    - Classifier and MLM runs had `warmup_fraction` 0.1; now `warmup_steps`
      `None` means the same (a tenth of the run). Another fraction (only
      the Python API could set one) stays as it is: such a run loads, but
      does not resume (`lifecycle.compile_for_training` says so).
    """
    settings = dict(settings)
    settings.setdefault("task", "language_model")
    for old in ("context_length", "max_length"):
        if old in settings:
            settings["max_sequence_length"] = settings.pop(old)
    if settings["task"] == "classification":
        settings.setdefault("skip_bad_rows", False)  # added for TSV/CSV rows
    if settings["task"] in ("language_model", "masked_lm"):
        settings.setdefault("validation_data", None)  # added for --val
    if settings.get("warmup_fraction") == 0.1:
        del settings["warmup_fraction"]
        settings.setdefault("warmup_steps", None)
    return settings


def check_run_folder(run_dir, settings, overwrite=False):
    """Checks `run_dir` against `settings` without writing; returns what
    training should do (`start_run_folder` then starts a new run).

    Returns:
        `"new"` (the folder is new or empty, or is to be cleared because of
        `overwrite`), `"resume"` (it holds an unfinished run with the same
        settings) or `"complete"` (it holds a finished run with the same
        settings).

    Raises:
        ValueError: the folder holds a different run or is not a run folder.
    """
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise ValueError(f"{run_dir} exists and is not a folder")
    if not os.path.isdir(run_dir) or not os.listdir(run_dir):
        return "new"
    if not os.path.isfile(run_path(run_dir, RUN_FILE)):
        raise ValueError(
            f"{run_dir} is not empty and is not a tfzoo run folder; "
            "choose another --out"
        )
    if overwrite:
        return "new"
    stored = read_settings(run_dir)
    settings = upgrade_settings(settings)
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
    if os.path.isfile(run_path(run_dir, MODEL_FILE)):
        return "complete"
    return "resume"


def start_run_folder(run_dir, settings):
    """Clears `run_dir` (a folder `check_run_folder` found `"new"`) and
    writes the run's settings into it."""
    if os.path.isdir(run_dir) and os.listdir(run_dir):
        shutil.rmtree(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    write_json_atomically(run_path(run_dir, RUN_FILE), settings)


def write_json_atomically(path, value):
    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        json.dump(value, f, indent=1, ensure_ascii=False)
    os.replace(temporary, path)


def save_model_atomically(model, path):
    """Saves a `.keras` file so that a crash never leaves half of one."""
    temporary = path[: -len(".keras")] + ".partial.keras"
    model.save(temporary)
    os.replace(temporary, path)


def backup_epoch(run_dir):
    """The epoch a resumed run starts at, from BackupAndRestore's metadata."""
    path = run_path(run_dir, "backup", "training_metadata.json")
    if not os.path.isfile(path):
        return 0
    with open(path) as f:
        return int(json.load(f)["epoch"])
