"""`tfzoo.serving.model_config` and `.warmup`: models.config, batching.config and warm-up requests,
read back with TF Serving's own protos (`tensorflow-serving-api`)."""

import os

import keras
import pytest
from google.protobuf import descriptor_pb2, message_factory, text_format
from tensorflow_serving.config import model_server_config_pb2

from tfzoo.serving import model_config, warmup
from tfzoo.cli import main
from tfzoo.tasks import export_run

from tests.conftest import make_run, replay_warmup
from tests.serving.test_export import build


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    keras.utils.set_random_seed(3)
    model, tokenizer = build("gpt", "char")
    return make_run(tmp_path_factory.mktemp("serving") / "run", model,
                    tokenizer)


def models_config(base):
    config = model_server_config_pb2.ModelServerConfig()
    with open(os.path.join(base, "models.config")) as f:
        text_format.Parse(f.read(), config)
    return {entry.name: entry for entry in config.model_config_list.config}


def batching_parameters():
    """TF Serving's BatchingParameters message (its .proto is not in the
    pip package): the fields tfzoo's example sets, and the rest."""
    file = descriptor_pb2.FileDescriptorProto(
        name="batching.proto", package="tensorflow.serving",
        dependency=["google/protobuf/wrappers.proto"])
    message = file.message_type.add(name="BatchingParameters")
    wrapped = [("max_batch_size", 1), ("batch_timeout_micros", 2),
               ("max_enqueued_batches", 3), ("num_batch_threads", 4),
               ("thread_pool_name", 5)]
    for name, number in wrapped:
        message.field.add(
            name=name, number=number,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
            type_name=(".google.protobuf.StringValue"
                       if name == "thread_pool_name"
                       else ".google.protobuf.Int64Value"))
    from google.protobuf import descriptor_pool, wrappers_pb2  # noqa: F401

    pool = descriptor_pool.Default()
    try:
        descriptor = pool.FindMessageTypeByName(
            "tensorflow.serving.BatchingParameters")
    except KeyError:
        pool.Add(file)
        descriptor = pool.FindMessageTypeByName(
            "tensorflow.serving.BatchingParameters")
    return message_factory.GetMessageClass(descriptor)()


def test_version_policies():
    assert model_config.parse_version_policy("latest").latest.num_versions == 1
    assert model_config.parse_version_policy("all").HasField("all")
    assert list(model_config.parse_version_policy(
        "specific:1,3").specific.versions) == [1, 3]
    for bad in ("newest", "specific:", "specific:1,x", ""):
        with pytest.raises(ValueError, match="unknown version policy"):
            model_config.parse_version_policy(bad)
    model_config.check_version_policy(model_config.parse_version_policy(
        "specific:1,2"), [1, 2, 3])
    with pytest.raises(ValueError, match=r"version\(s\) 4, which do not "
                       r"exist \(there will be 1, 2\)"):
        model_config.check_version_policy(model_config.parse_version_policy(
            "specific:1,4"), [1, 2])


def test_exports_keep_models_config_and_batching_config(run, tmp_path):
    base = str(tmp_path / "saved_models")
    export_run(run, "first", base_dir=base, jit_compile=False, warmup=False)
    # An entry added by hand, and a tuned batching config, are kept.
    path = os.path.join(base, "models.config")
    with open(path) as f:
        text = f.read().rstrip()
    assert text.endswith("}")  # model_config_list's end
    with open(path, "w") as f:
        f.write(text[:-1] + '  config { name: "by_hand" base_path: '
                '"/elsewhere/by_hand" model_platform: "tensorflow" }\n}\n')
    parameters = batching_parameters()
    with open(os.path.join(base, "batching.config")) as f:
        text_format.Parse(f.read(), parameters)
    assert parameters.max_batch_size.value == 32
    assert parameters.batch_timeout_micros.value == 5000
    with open(os.path.join(base, "batching.config"), "w") as f:
        f.write("max_batch_size { value: 8 }\n")

    export_run(run, "second", base_dir=base, jit_compile=False,
               warmup=False, version_policy="all", serving_root="/srv/")
    export_run(run, "first", base_dir=base, jit_compile=False, warmup=False,
               version_policy="specific:1,2")
    entries = models_config(base)
    assert sorted(entries) == ["by_hand", "first", "second"]
    assert entries["first"].base_path == "/models/first"
    assert list(entries["first"].model_version_policy.specific.versions) == [
        1, 2]
    assert entries["second"].base_path == "/srv/second"
    assert entries["second"].model_version_policy.HasField("all")
    assert entries["by_hand"].base_path == "/elsewhere/by_hand"
    assert all(e.model_platform == "tensorflow" for e in entries.values())
    with open(os.path.join(base, "batching.config")) as f:
        assert f.read() == "max_batch_size { value: 8 }\n"
    assert not os.path.exists(os.path.join(base, "first", "1", "assets.extra",
                                           warmup.WARMUP_FILE))


@pytest.mark.parametrize("arguments, message", [
    (["--version-policy", "newest"], "unknown version policy 'newest'"),
    (["--version-policy", "specific:1,7"], "version(s) 7, which do not "
     "exist (there will be 1, 2)"),
    (["--name", "broken"], "models.config is not a ModelServerConfig text "
     "proto"),
])
def test_bad_serving_input_is_one_line_and_overwrites_nothing(
        run, tmp_path, capsys, arguments, message):
    base = tmp_path / "saved_models"
    assert main(["export", "--run", run, "--name", "m", "--base-dir",
                 str(base), "--no-xla", "--no-warmup"]) == 0
    if "broken" in arguments:
        (base / "models.config").write_text("model_config_list { oops")
    before = (base / "models.config").read_text()
    capsys.readouterr()
    arguments = arguments if "--name" in arguments else ["--name", "m",
                                                         *arguments]
    assert main(["export", "--run", run, "--base-dir", str(base),
                 "--no-xla", *arguments]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("tfzoo: error: ") and message in error
    assert len(error.splitlines()) == 1
    assert (base / "models.config").read_text() == before
    assert sorted(os.listdir(base / "m")) == ["1"]
    assert not (base / "broken").exists()


def test_warmup_requests_replay_on_the_export(run, tmp_path):
    path = export_run(run, "warm", base_dir=str(tmp_path), jit_compile=False)
    assert all(log.predict_log.request.model_spec.name == "warm"
               for log in warmup.read_warmup(path))
    replies = replay_warmup(path)
    assert [(s, b) for s, b, _ in replies] == [
        ("serving_default", 1), ("serving_default", 4), ("score", 1),
        ("score", 4)]
    for _, batch, outputs in replies:
        for value in outputs.values():
            assert value.shape[0] == batch
