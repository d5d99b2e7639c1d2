import keras
import numpy as np
import pytest

from tfzoo.training import make_optimizer, warmup_cosine_schedule


def test_warmup_then_cosine_to_the_floor():
    schedule = warmup_cosine_schedule(1e-3, total_steps=1000, warmup_steps=100)
    lr = [float(schedule(step)) for step in (0, 50, 100, 550, 1000, 5000)]
    assert lr[0] == 0.0
    assert lr[1] == pytest.approx(5e-4)
    assert lr[2] == pytest.approx(1e-3)
    assert lr[3] == pytest.approx(0.55e-3, rel=1e-3)  # halfway down
    assert lr[4] == pytest.approx(1e-4)
    assert lr[5] == pytest.approx(1e-4)


def test_clipping_and_decay_settings():
    optimizer = make_optimizer(1e-3, 100, weight_decay=0.1, clip_norm=1.0)
    assert optimizer.global_clipnorm == 1.0
    assert optimizer.weight_decay == 0.1
    bias = keras.Variable(np.ones(3), name="bias")
    kernel = keras.Variable(np.ones((3, 3)), name="kernel")
    assert not optimizer._use_weight_decay(bias)
    assert optimizer._use_weight_decay(kernel)
