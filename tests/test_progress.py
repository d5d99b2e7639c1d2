"""`tfzoo.progress.ProgressBars`: progress of long steps on stderr."""

from tfzoo.progress import ProgressBars


def test_progress_bars_close_each_stage_with_its_duration(capsys):
    bars = ProgressBars({"counting words": "texts", "learning": "tries"})
    for done in range(4):
        bars("counting words", done, 3)
    bars("learning", 0, 9)
    bars("learning", 5, 5)  # the stage ended sooner than it might have
    bars("scoring", 2, 2)
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout is for results
    closing = [line for line in captured.err.splitlines()
               if " in " in line and line.endswith(" s")]
    assert [line.split(" in ")[0] for line in closing] == [
        "counting words: 3 texts", "learning: 5 tries", "scoring: 2 steps"]
    assert "/try" in captured.err  # the bar's unit, singular
    ProgressBars(verbose=False)("scoring", 1, 1)
    assert capsys.readouterr().err == ""
