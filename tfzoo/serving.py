"""What TF Serving reads beside the SavedModels tfzoo exports.

    saved_models/
      models.config      ModelServerConfig (text proto): every exported
                         model, its base path in the server and its
                         version policy (`--model_config_file`)
      batching.config    BatchingParameters (text proto): an example to
                         start from (`--batching_parameters_file`)
      NAME/VERSION/assets.extra/tf_serving_warmup_requests
                         a TFRecord of PredictionLog protos: requests the
                         server replays when it loads the version, so that
                         the first user does not wait for graphs to be
                         traced and compiled

The protos come from `tensorflow-serving-api`. `models.config` is read and
updated in place: entries someone added by hand are kept (comments are
not: the file is rewritten from the parsed proto).
"""

import os

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import (model_pb2, predict_pb2,
                                     prediction_log_pb2)
from tensorflow_serving.config import (
    file_system_storage_path_source_pb2 as storage_path)
from tensorflow_serving.config import model_server_config_pb2

WARMUP_FILE = "tf_serving_warmup_requests"
MODELS_CONFIG = "models.config"
BATCHING_CONFIG = "batching.config"
DEFAULT_SERVING_ROOT = "/models"  # where the README's docker command mounts
VersionPolicy = storage_path.FileSystemStoragePathSourceConfig \
    .ServableVersionPolicy

# An example to tune: batches of up to 32 requests, waiting at most 5 ms
# for a batch to fill (TF Serving's batching guide starts here for CPUs).
BATCHING_EXAMPLE = """\
# TF Serving batching parameters (tensorflow_serving BatchingParameters),
# read with --enable_batching --batching_parameters_file=<this file>.
max_batch_size { value: 32 }
batch_timeout_micros { value: 5000 }
max_enqueued_batches { value: 100 }
num_batch_threads { value: 2 }
"""


def parse_version_policy(text):
    """A `ServableVersionPolicy` from `latest`, `all` or `specific:N,M`.

    Raises:
        ValueError: any other text.
    """
    if text == "latest":
        return VersionPolicy(latest=VersionPolicy.Latest(num_versions=1))
    if text == "all":
        return VersionPolicy(all=VersionPolicy.All())
    if text.startswith("specific:"):
        numbers = text[len("specific:"):].split(",")
        if all(n.strip().isdigit() for n in numbers):
            return VersionPolicy(specific=VersionPolicy.Specific(
                versions=[int(n) for n in numbers]))
    raise ValueError(f"unknown version policy {text!r}; use latest, all or "
                     "specific:N,M (version numbers)")


def check_version_policy(policy, versions):
    """`ValueError` if a `specific` policy names a version not in
    `versions` (the version folders there will be)."""
    if policy.WhichOneof("policy_choice") != "specific":
        return
    missing = sorted(set(policy.specific.versions) - set(versions))
    if missing:
        raise ValueError(
            f"the version policy names version(s) "
            f"{', '.join(map(str, missing))}, which do not exist (there "
            f"will be {', '.join(map(str, sorted(versions)))})")


def read_models_config(base_dir):
    """The `ModelServerConfig` in `base_dir/models.config` (empty if there
    is none).

    Raises:
        ValueError: the file does not parse, named with the parser's reason.
    """
    path = os.path.join(base_dir, MODELS_CONFIG)
    config = model_server_config_pb2.ModelServerConfig()
    if not os.path.isfile(path):
        return config
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as error:
        raise ValueError(f"{path} is not a ModelServerConfig text proto "
                         f"({error}); fix or remove it") from None
    return config


def update_models_config(base_dir, config, name, policy,
                         serving_root=DEFAULT_SERVING_ROOT):
    """Adds or updates model `name` in `config` (read by
    `read_models_config`) and writes it to `base_dir/models.config`,
    beside then renamed. Other entries are kept as they are."""
    models = config.model_config_list.config
    entry = next((m for m in models if m.name == name), None)
    if entry is None:
        entry = models.add(name=name)
    entry.base_path = f"{serving_root.rstrip('/')}/{name}"
    entry.model_platform = "tensorflow"
    entry.model_version_policy.CopyFrom(policy)
    path = os.path.join(base_dir, MODELS_CONFIG)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(config))
    os.replace(path + ".tmp", path)


def write_batching_example(base_dir):
    """Writes `base_dir/batching.config` unless one is there (it may have
    been tuned)."""
    path = os.path.join(base_dir, BATCHING_CONFIG)
    if not os.path.exists(path):
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(BATCHING_EXAMPLE)
        os.replace(path + ".tmp", path)


# === Warm-up ===

_SHORT = "ROMEO:"
_LONG = "To be, or not to be, that is the question. " * 12


def warmup_requests(task, name):
    """`PredictionLog`s for a model of `task`: for each signature, a
    request of batch 1 (a short input) and one of batch 4 (short and long
    inputs), every input given.

    Args:
        task: `"language_model"`, `"classification"` or `"translation"`.
        name: str, the model's name in the server.
    """
    texts = [_SHORT, _LONG, "", "JULIET:"]
    if task == "classification":
        calls = [("serving_default", {
            "text": np.array(batch, object),
            "text_pair": np.array([], object)}) for batch in (
                texts[:1], texts)]
    elif task == "translation":
        calls = [("serving_default", {
            "source": np.array(batch, object),
            "beam_width": np.int32(width),
            "max_new_tokens": np.int32(16)})
            for batch, width in ((texts[:1], 1), (texts, 4))]
    else:
        generate = {"max_new_tokens": np.int32(8),
                    "temperature": np.float32(0.0), "top_k": np.int32(0),
                    "top_p": np.float32(1.0), "seed": np.int64(1)}
        calls = [("serving_default", {"prompt": np.array(batch, object),
                                      **generate})
                 for batch in (texts[:1], texts)]
        calls += [("score", {"text": np.array(batch, object)})
                  for batch in (texts[:1], texts)]
    logs = []
    for signature, inputs in calls:
        request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(
            name=name, signature_name=signature))
        for key, value in inputs.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        logs.append(prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request)))
    return logs


def write_warmup(export_dir, logs):
    """Writes `logs` as `export_dir/assets.extra/tf_serving_warmup_requests`
    (a TFRecord file, one serialized `PredictionLog` per record)."""
    folder = os.path.join(export_dir, "assets.extra")
    os.makedirs(folder, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(folder, WARMUP_FILE)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())


def read_warmup(export_dir):
    """The `PredictionLog`s of an export's warm-up file."""
    path = os.path.join(export_dir, "assets.extra", WARMUP_FILE)
    return [prediction_log_pb2.PredictionLog.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(path)]
