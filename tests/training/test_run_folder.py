import json

import pytest

from tfzoo.training.run_folder import prepare_run_folder, start_run_folder

SETTINGS = {"model": "gpt", "preset": "gpt-tiny", "learning_rate": 1e-3}


def test_new_resume_complete(tmp_path):
    run = str(tmp_path / "run")
    assert prepare_run_folder(run, SETTINGS) == "new"
    assert json.loads((tmp_path / "run" / "run.json").read_text()) == SETTINGS
    assert prepare_run_folder(run, SETTINGS) == "resume"
    (tmp_path / "run" / "model.keras").write_text("weights")
    assert prepare_run_folder(run, SETTINGS) == "complete"


def test_a_different_run_is_refused_and_kept(tmp_path):
    run = str(tmp_path / "run")
    prepare_run_folder(run, SETTINGS)
    (tmp_path / "run" / "model.keras").write_text("weights")
    other = {**SETTINGS, "learning_rate": 5e-4}
    with pytest.raises(ValueError, match="different run.*learning_rate"):
        prepare_run_folder(run, other)
    assert (tmp_path / "run" / "model.keras").read_text() == "weights"
    assert prepare_run_folder(run, other, overwrite=True) == "new"
    assert not (tmp_path / "run" / "model.keras").exists()


def test_a_folder_that_is_no_run_is_never_touched(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="not a tfzoo run folder"):
            prepare_run_folder(str(tmp_path), SETTINGS, overwrite=overwrite)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_looking_writes_nothing_until_the_run_starts(tmp_path):
    # The workers of a cluster all look before the chief starts the run.
    run = tmp_path / "run"
    assert prepare_run_folder(str(run), SETTINGS, write=False) == "new"
    assert not run.exists()
    start_run_folder(str(run), SETTINGS)
    assert prepare_run_folder(str(run), SETTINGS, write=False) == "resume"
    (run / "model.keras").write_text("weights")
    other = {**SETTINGS, "learning_rate": 5e-4}
    assert prepare_run_folder(str(run), other, overwrite=True,
                              write=False) == "new"
    assert (run / "model.keras").read_text() == "weights"
    start_run_folder(str(run), other)
    assert sorted(p.name for p in run.iterdir()) == ["run.json"]
