import json
import zipfile

import h5py
import pytest

from tfzoo.training.callbacks import keep_rows_before
from tfzoo.runs.run_folder import (ResumePoint, check_run_folder,
                                       file_digest, read_settings,
                                       resume_point, start_run_folder,
                                       upgrade_settings,
                                       write_json_atomically)

SETTINGS = {"model": "gpt", "preset": "gpt-tiny", "learning_rate": 1e-3}


def test_new_resume_complete(tmp_path):
    run = str(tmp_path / "run")
    assert check_run_folder(run, SETTINGS) == "new"
    start_run_folder(run, SETTINGS)
    assert json.loads((tmp_path / "run" / "run.json").read_text()) == SETTINGS
    assert check_run_folder(run, SETTINGS) == "resume"
    (tmp_path / "run" / "model.keras").write_text("weights")
    assert check_run_folder(run, SETTINGS) == "complete"


def test_a_different_run_is_refused_and_kept(tmp_path):
    run = str(tmp_path / "run")
    start_run_folder(run, SETTINGS)
    (tmp_path / "run" / "model.keras").write_text("weights")
    other = {**SETTINGS, "learning_rate": 5e-4}
    with pytest.raises(ValueError, match="different run.*learning_rate"):
        check_run_folder(run, other)
    assert (tmp_path / "run" / "model.keras").read_text() == "weights"
    assert check_run_folder(run, other, overwrite=True) == "new"
    start_run_folder(run, other)
    assert not (tmp_path / "run" / "model.keras").exists()


def test_a_folder_that_is_no_run_is_never_touched(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="is not empty and is not a "
                           "tfzoo run folder; choose another --out$"):
            check_run_folder(str(tmp_path), SETTINGS, overwrite=overwrite)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_checking_writes_nothing_until_the_run_starts(tmp_path):
    # The workers of a cluster all check before the chief starts the run.
    run = tmp_path / "run"
    assert check_run_folder(str(run), SETTINGS) == "new"
    assert not run.exists()
    start_run_folder(str(run), SETTINGS)
    assert check_run_folder(str(run), SETTINGS) == "resume"
    (run / "model.keras").write_text("weights")
    other = {**SETTINGS, "learning_rate": 5e-4}
    assert check_run_folder(str(run), other, overwrite=True) == "new"
    assert (run / "model.keras").read_text() == "weights"
    start_run_folder(str(run), other)
    assert sorted(p.name for p in run.iterdir()) == ["run.json"]


def upgraded(settings):
    """`settings` in today's form: the renames, then its task's additions
    (what `tfzoo.tasks.catalog.read_run_settings` does with a run.json)."""
    from tfzoo.tasks.catalog import task_of

    return upgrade_settings(settings, task_of(settings).upgrade_settings)


def test_settings_of_old_runs_are_read_in_todays_names():
    assert upgraded({"model": "gpt", "context_length": 64}) == {
        "task": "language_model", "model": "gpt", "max_sequence_length": 64,
        "validation_data": None}
    assert upgraded({"task": "classification", "model": "lstm-classifier",
                     "train": "a.tsv", "validation": "b.tsv",
                     "max_length": 128, "warmup_fraction": 0.1}) == {
        "task": "classification", "model": "lstm-classifier",
        "data": "a.tsv", "validation_data": "b.tsv",
        "max_sequence_length": 128, "skip_bad_rows": False,
        "warmup_steps": None, "preset": "lstm-classifier",
        "quoting": "auto", "steps": None, "global_batch_size": None,
        "clip_norm": 1.0}
    # Another fraction (only the Python API could set one) still loads,
    # but the run cannot resume with today's warmup_steps.
    from tfzoo.training.lifecycle import compile_for_training

    odd = upgraded({"task": "masked_lm", "model": "bert-mlm",
                    "warmup_fraction": 0.2})
    assert odd == {"task": "masked_lm", "model": "bert-mlm",
                   "warmup_fraction": 0.2, "validation_data": None,
                   "preset": "bert-mini-mlm", "steps": None,
                   "global_batch_size": None, "clip_norm": 1.0,
                   "jit_compile": False}
    with pytest.raises(ValueError, match="warmup_fraction 0.2"):
        compile_for_training(None, odd, total_steps=10, metrics=[])


# The tests below were written for mutants that survived `mutmut run`.

def test_an_empty_folder_is_new_and_starts_in_place(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert check_run_folder(str(run), SETTINGS) == "new"
    start_run_folder(str(run), SETTINGS)
    assert read_settings(str(run))["preset"] == "gpt-tiny"


def test_a_run_killed_while_writing_its_run_json_starts_again(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json.tmp").write_text('{"mod')
    assert check_run_folder(str(run), SETTINGS) == "new"
    start_run_folder(str(run), SETTINGS)
    assert sorted(p.name for p in run.iterdir()) == ["run.json"]


def test_a_file_or_a_folder_without_run_json_is_named(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    with pytest.raises(ValueError, match="notes.txt exists and is not a "
                       "folder"):
        check_run_folder(str(path), SETTINGS)
    with pytest.raises(ValueError, match=r"is not a tfzoo run folder "
                       r"\(no run.json\)"):
        read_settings(str(tmp_path))


def test_a_setting_only_one_side_has_is_a_difference(tmp_path):
    run = str(tmp_path / "run")
    start_run_folder(run, SETTINGS)
    with pytest.raises(ValueError, match=r"differs in dropout, seed\); use "
                       "--overwrite to replace it or choose another --out$"):
        check_run_folder(run, {**SETTINGS, "seed": 1, "dropout": 0.1})


def test_settings_are_written_readable_and_whole(tmp_path):
    path = str(tmp_path / "run.json")
    write_json_atomically(path, {"data": "Gedichte/Übung.txt", "seed": 1})
    text = open(path, encoding="utf-8").read()
    assert "Übung" in text  # as typed, not \u00dc escapes
    assert json.loads(text) == {"data": "Gedichte/Übung.txt", "seed": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def fake_checkpoint(path):
    """A `.keras` archive as far as `resume_point` looks (whole, weights)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.weights.h5", b"weights")


def backup(run, epoch, name, data=b"weights", sha256=True):
    """`backup/` with `name` holding `data` and metadata naming it."""
    (run / "backup").mkdir(exist_ok=True)
    (run / "backup" / name).write_bytes(data)
    metadata = {"epoch": epoch, "batch": 0, "weights": name}
    if sha256:
        metadata["sha256"] = file_digest(run / "backup" / name)
    write_json_atomically(str(run / "backup" / "training_metadata.json"),
                          metadata)


def test_a_run_resumes_from_its_backup(tmp_path):
    assert resume_point(str(tmp_path)) == ResumePoint(0, None, None)
    (tmp_path / "checkpoints").mkdir()
    for epoch in (1, 2, 3):
        fake_checkpoint(tmp_path / "checkpoints" / f"epoch_00{epoch}.keras")
    backup(tmp_path, 2, "epoch_002.weights.h5")
    assert resume_point(str(tmp_path)) == ResumePoint(
        2, str(tmp_path / "backup" / "epoch_002.weights.h5"), None)


def test_a_damaged_backup_falls_back_to_the_newest_good_checkpoint(
        tmp_path):
    run = str(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    fake_checkpoint(tmp_path / "checkpoints" / "epoch_001.keras")
    fake_checkpoint(tmp_path / "checkpoints" / "epoch_002.keras")
    # Neither a half-written checkpoint nor a cut one is taken.
    fake_checkpoint(tmp_path / "checkpoints" / "epoch_003.partial.keras")
    (tmp_path / "checkpoints" / "epoch_003.keras").write_bytes(
        (tmp_path / "checkpoints" / "epoch_002.keras").read_bytes()[:40])
    second = str(tmp_path / "checkpoints" / "epoch_002.keras")
    resumed = "; resuming from checkpoints/epoch_002.keras"

    backup(tmp_path, 3, "epoch_003.weights.h5")
    (tmp_path / "backup" / "epoch_003.weights.h5").write_bytes(b"spoilt")
    assert resume_point(run) == ResumePoint(2, second, (
        f"the backup in {run}/backup is damaged (epoch_003.weights.h5 does "
        f"not match its checksum){resumed}"))

    (tmp_path / "backup" / "epoch_003.weights.h5").unlink()
    assert resume_point(run).note == (
        f"the backup in {run}/backup is damaged (epoch_003.weights.h5 is "
        f"missing){resumed}")

    (tmp_path / "backup" / "training_metadata.json").write_text('{"epo')
    note = resume_point(run).note
    assert note.startswith(f"the backup in {run}/backup is damaged "
                           "(training_metadata.json: ")
    assert note.endswith(resumed) and "\n" not in note

    (tmp_path / "backup" / "training_metadata.json").unlink()
    assert resume_point(run) == ResumePoint(
        2, second, f"{run}/backup holds no backup{resumed}")

    for name in ("epoch_001.keras", "epoch_002.keras"):
        (tmp_path / "checkpoints" / name).unlink()
    assert resume_point(run) == ResumePoint(0, None, None)
    backup(tmp_path, 3, "epoch_003.weights.h5", sha256=False)
    assert resume_point(run) == ResumePoint(0, None, (
        f"the backup in {run}/backup is damaged (epoch_003.weights.h5: "
        "Unable to synchronously open file (file signature not found)); "
        "starting again from the first epoch (no good checkpoint)"))


def test_an_older_tfzoos_backup_still_resumes(tmp_path):
    # Its metadata names no file: the weights are latest.weights.h5.
    (tmp_path / "backup").mkdir()
    with h5py.File(tmp_path / "backup" / "latest.weights.h5", "w") as f:
        f.create_group("vars")
    (tmp_path / "backup" / "training_metadata.json").write_text(
        '{"epoch": 2, "batch": 0}')
    assert resume_point(str(tmp_path)) == ResumePoint(
        2, str(tmp_path / "backup" / "latest.weights.h5"), None)


def test_the_history_keeps_whole_rows_of_the_epochs_before(tmp_path):
    path = tmp_path / "history.csv"
    header, rows = b"epoch,loss\r\n", [b"%d,0.%d\r\n" % (i, i)
                                        for i in range(4)]
    path.write_bytes(header + b"".join(rows) + b"4,0.")
    keep_rows_before(str(path), 4)  # a row cut by a kill goes
    assert path.read_bytes() == header + b"".join(rows)
    keep_rows_before(str(path), 2)  # epochs to train again go
    assert path.read_bytes() == header + b"".join(rows[:2])
    keep_rows_before(str(path), 0)
    assert path.read_bytes() == header
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv"]
