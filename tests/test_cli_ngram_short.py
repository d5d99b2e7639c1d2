"""`tfzoo train --model ngram` with an order above the text's length (the
issue's 19-character text, order 30), then eval and generate on the run."""

import os

import numpy as np
import pytest

from tfzoo.cli import main

TEXT = "To be or not to be\n"  # 17 characters train, 2 validate


def losses(out):
    """The training and validation loss that `train` printed."""
    return tuple(float(out.split(f"{name} loss ")[1].split()[0].rstrip(","))
                 for name in ("training", "validation"))


@pytest.mark.parametrize("smoothing", ["kneser_ney", "add_k"])
def test_an_order_above_the_texts_length(tmp_path, capsys, smoothing):
    assert len(TEXT) == 19
    data = tmp_path / "short.txt"
    data.write_text(TEXT, encoding="utf-8")
    run = str(tmp_path / "30gram")
    assert main(["train", "--model", "ngram", "--order", "30", "--data",
                 str(data), "--out", run, "--smoothing", smoothing]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"30-gram model, {smoothing}: ")
    assert "from 17 tokens" in out
    assert os.path.isfile(os.path.join(run, "ngram.npz"))
    trained = losses(out)
    assert all(np.isfinite(trained)) and 0 < trained[0] < trained[1]

    # Orders 18 to 30 have no n-grams: the run is the 17-gram run.
    assert main(["train", "--model", "ngram", "--order", "17", "--data",
                 str(data), "--out", str(tmp_path / "17gram"),
                 "--smoothing", smoothing]) == 0
    assert losses(capsys.readouterr().out) == trained

    assert main(["eval", "--run", run]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert float(lines[1].split()[1]) == pytest.approx(trained[1], abs=1e-4)

    texts = []
    for seed in ("1", "1"):
        assert main(["generate", "--run", run, "To be", "--seed", seed,
                     "--max-new-tokens", "30"]) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1] and texts[0].startswith("To be")
    assert main(["generate", "--run", run, "To be", "--temperature", "0",
                 "--max-new-tokens", "20"]) == 0
    assert len(capsys.readouterr().out.strip()) == len("To be") + 20
