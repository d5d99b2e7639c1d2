"""`tfzoo plot`: PNG curves from a run's history."""

import os

import matplotlib.image
import pytest

from tfzoo.cli import main
from tfzoo.runs.run_folder import write_json_atomically


def make_history(run, rows):
    os.makedirs(os.path.join(run, "logs"))
    write_json_atomically(os.path.join(run, "run.json"), {"task": None})
    with open(os.path.join(run, "logs", "history.csv"), "w") as f:
        f.write("epoch,learning_rate,loss,perplexity,val_loss,"
                "val_perplexity\n")
        for epoch, loss in enumerate(rows):
            f.write(f"{epoch},0.001,{loss},{2.7 ** loss},{loss + 0.1},"
                    f"{2.7 ** (loss + 0.1)}\n")


def test_curves_png_has_one_panel_per_metric(tmp_path, capsys):
    run = str(tmp_path / "run")
    make_history(run, [2.0, 1.5, 1.2])
    assert main(["plot", "--run", run]) == 0
    path = os.path.join(run, "plots", "curves.png")
    assert capsys.readouterr().out.strip() == f"Wrote {path}"
    height, width, _ = matplotlib.image.imread(path).shape
    # Two panels (loss, perplexity; no learning rate) of 5 x 4 inches.
    assert (width, height) == (1000, 400)


def test_a_run_without_history_is_a_one_line_error(tmp_path, capsys):
    run = tmp_path / "fresh"
    run.mkdir()
    write_json_atomically(str(run / "run.json"), {})
    assert main(["plot", "--run", str(run)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("tfzoo: error: ") and "no logs/history.csv" in err


@pytest.mark.parametrize("rows", [[]])
def test_an_empty_history_is_an_error(tmp_path, capsys, rows):
    run = str(tmp_path / "run")
    make_history(run, rows)
    assert main(["plot", "--run", run]) == 1
    assert "holds no epochs yet" in capsys.readouterr().err
