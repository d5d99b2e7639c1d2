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


def test_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        make_optimizer(1e-3, kind="sgd")


def tiny_lm():
    from tfzoo.models import TransformerLM

    return TransformerLM(vocabulary_size=11, max_sequence_length=8,
                         num_layers=1, num_heads=2, hidden_dim=8)


def test_muon_for_matrices_adamw_for_the_rest():
    model = tiny_lm()
    optimizer = make_optimizer(1e-3, kind="muon")
    optimizer.build(model.trainable_variables)
    adamw = {v.path for v in model.trainable_variables
             if optimizer.adam_velocities[optimizer._get_variable_index(v)]
             is not None}
    muon = {v.path for v in model.trainable_variables} - adamw
    assert muon and all(path.endswith("kernel") for path in muon)
    assert any("token_embedding" in path for path in adamw)
    assert any(path.endswith("bias") for path in adamw)
    assert any(path.endswith("gamma") for path in adamw)
    assert optimizer.weight_decay == optimizer.adam_weight_decay == 0.1


@pytest.mark.parametrize("kind", ["adamw", "muon"])
def test_compiled_model_trains_and_round_trips(tmp_path, kind):
    model = tiny_lm()
    model.compile(optimizer=make_optimizer(3e-3, kind=kind),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 11, size=(16, 8)).astype("int32")
    y = np.roll(x, -1, axis=1)
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < first - 0.1
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.__class__.__module__ == "tfzoo.optimizers"
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
