import json

import pytest

from tfzoo.training.run_folder import check_run_folder, start_run_folder

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
        with pytest.raises(ValueError, match="not a tfzoo run folder"):
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
