import json

import pytest

from tfzoo.training.run_folder import (check_run_folder, read_settings,
                                       start_run_folder, upgrade_settings,
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


def test_settings_of_old_runs_are_read_in_todays_names():
    assert upgrade_settings({"model": "gpt", "context_length": 64}) == {
        "task": "language_model", "model": "gpt", "max_sequence_length": 64}
    assert upgrade_settings({"task": "classification", "max_length": 128,
                             "warmup_fraction": 0.1}) == {
        "task": "classification", "max_sequence_length": 128,
        "skip_bad_rows": False, "warmup_steps": None}
    # Another fraction (only the Python API could set one) still loads,
    # but the run cannot resume with today's warmup_steps.
    from tfzoo.training.lifecycle import compile_for_training

    odd = upgrade_settings({"task": "masked_lm", "warmup_fraction": 0.2})
    assert odd == {"task": "masked_lm", "warmup_fraction": 0.2}
    with pytest.raises(ValueError, match="warmup_fraction 0.2"):
        compile_for_training(None, odd, total_steps=10, metrics=[])


# The tests below were written for mutants that survived `mutmut run`.

def test_an_empty_folder_is_new_and_starts_in_place(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert check_run_folder(str(run), SETTINGS) == "new"
    start_run_folder(str(run), SETTINGS)
    assert read_settings(str(run))["preset"] == "gpt-tiny"


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
