"""The schedule line of the training banner: steps x epochs as run."""

import pytest

from tfzoo.training.lifecycle import schedule, schedule_line


@pytest.mark.parametrize("settings, batches, line", [
    ({"epochs": 1}, 334, "1 epoch x 334 steps"),
    ({"epochs": 3}, 334, "3 epochs x 334 steps"),
    ({"steps": 1000}, 334, "1000 steps: 2 epochs x 334 and 1 x 332"),
    ({"steps": 3}, 490, "3 steps: 1 epoch x 3"),
    ({"steps": 400}, 334, "400 steps: 1 epoch x 334 and 1 x 66"),
])
def test_schedule_line(settings, batches, line):
    assert schedule_line(*schedule(settings, batches)) == line
