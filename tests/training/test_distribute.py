"""Choosing a strategy and a precision: the checks that run before any
training (in this process; the real engine is tested in
test_distributed_training.py)."""

import json

import pytest

from tfzoo.cli import main
from tfzoo.training.distribute import (check_precision, global_batch_size,
                                       is_chief, make_strategy,
                                       read_tf_config)


def test_default_strategy_is_one_replica_and_the_chief():
    strategy = make_strategy("default")
    assert strategy.num_replicas_in_sync == 1
    assert is_chief(strategy)


def without_accelerators(monkeypatch):
    """Makes this machine look like one without GPUs or TPUs, so that the
    test holds on any machine."""
    import tensorflow as tf

    from tfzoo.training import distribute

    real = tf.config.list_physical_devices
    monkeypatch.setattr(
        tf.config, "list_physical_devices",
        lambda kind=None: [] if kind == "GPU" else real(kind))
    monkeypatch.setattr(distribute, "_on_tpu_machine", lambda: False)


def test_auto_without_tpu_or_gpus_is_the_default_strategy(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    without_accelerators(monkeypatch)
    assert type(make_strategy("auto")).__name__ == (
        "_DefaultDistributionStrategy")


@pytest.mark.parametrize("per_replica, replicas, global_size, expected", [
    (8, 1, None, 8), (8, 4, None, 32), (8, 4, 12, 12)])
def test_global_batch(per_replica, replicas, global_size, expected):
    assert global_batch_size(per_replica, replicas, global_size) == expected


def test_global_batch_must_divide_among_replicas():
    with pytest.raises(ValueError, match="does not divide among 2 replicas"):
        global_batch_size(8, 2, 15)


@pytest.mark.parametrize("tf_config, message", [
    (None, "needs the TF_CONFIG"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", 'needs a "cluster"'),
    ('{"cluster": {"worker": "localhost:1"}, '
     '"task": {"type": "worker", "index": 0}}', "must be a list"),
    ('{"cluster": {"worker": ["localhost"]}, '
     '"task": {"type": "worker", "index": 0}}', "must be a list"),
    ('{"cluster": {"worker": ["localhost:1"]}}', 'needs a "task"'),
    ('{"cluster": {"worker": ["localhost:1"]}, '
     '"task": {"type": "ps", "index": 0}}', 'needs a "task"'),
    ('{"cluster": {"worker": ["localhost:1"]}, '
     '"task": {"type": "worker", "index": 1}}', "not a position"),
])
def test_malformed_tf_config_is_named(monkeypatch, tf_config, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=message):
        read_tf_config()


def test_well_formed_tf_config_is_read(monkeypatch):
    config = {"cluster": {"worker": ["host1:2222", "host2:2222"]},
              "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert read_tf_config() == config


@pytest.mark.parametrize("address, message", [
    ("grpc://no-such-host.invalid:8470", "does not resolve"),
    ("grpc://127.0.0.1:1", "nothing answers"),
    ("local", "no TPU found"),
])
def test_tpu_that_is_not_there_is_named(address, message):
    with pytest.raises(ValueError, match=message):
        make_strategy("tpu", address)


def test_unknown_strategy_and_misplaced_tpu():
    with pytest.raises(ValueError, match="unknown strategy 'gpus'"):
        make_strategy("gpus")
    with pytest.raises(ValueError, match="--tpu needs --strategy tpu"):
        make_strategy("mirrored", tpu="grpc://1.2.3.4:8470")


def test_precision_this_machine_lacks_is_refused(monkeypatch):
    without_accelerators(monkeypatch)
    check_precision("float32")
    with pytest.raises(ValueError, match="mixed_float16 needs a GPU"):
        check_precision("mixed_float16")
    with pytest.raises(ValueError, match="unknown precision"):
        check_precision("int8")


def _train_args(tmp_path, text_file, *extra):
    return ["train", "--data", text_file, "--steps", "2", "--out",
            str(tmp_path / "run"), *extra]


@pytest.mark.parametrize("extra, tf_config, message", [
    (["--strategy", "multiworker"], "{oops", "TF_CONFIG is not valid JSON"),
    (["--strategy", "tpu", "--tpu", "grpc://no-such-host.invalid:8470"],
     None, "does not resolve"),
    (["--precision", "mixed_float16"], None, "mixed_float16 needs a GPU"),
])
def test_cli_refuses_before_training(tmp_path, text_file, capsys,
                                     monkeypatch, extra, tf_config, message):
    if tf_config:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    assert main(_train_args(tmp_path, text_file, *extra)) == 1
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "run").exists()  # refused before anything ran


def test_cli_refuses_an_unknown_strategy(tmp_path, text_file, capsys):
    with pytest.raises(SystemExit) as exit:
        main(_train_args(tmp_path, text_file, "--strategy", "gpus"))
    assert exit.value.code == 2
    assert "invalid choice: 'gpus'" in capsys.readouterr().err


@pytest.mark.slow  # about 35 s
def test_mixed_bfloat16_computes_in_bfloat16_with_float32_logits(
        tmp_path, text_file):
    import keras

    from tfzoo.tasks import make_settings, train

    try:
        check_precision("mixed_bfloat16")
    except ValueError as error:  # e.g. a CPU without bfloat16 instructions
        pytest.skip(f"this machine does not compute in bfloat16: {error}")
    settings = make_settings("gpt", "gpt-tiny", data=text_file, steps=6,
                             steps_per_epoch=3, precision="mixed_bfloat16")
    model = train(settings, str(tmp_path / "run"), sample_every=0,
                  verbose=0).model
    assert keras.config.dtype_policy().name == "float32"  # restored
    assert model.blocks[0].compute_dtype == "bfloat16"
    assert model.blocks[0].trainable_weights[0].dtype == "float32"
    logits = model(keras.ops.zeros((2, 8), "int32"))
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    with open(tmp_path / "run" / "logs" / "history.csv") as f:
        losses = [float(line.split(",")[2]) for line in f.readlines()[1:]]
    assert len(losses) == 2 and all(0 < loss < 10 for loss in losses)
