"""The server's config files beside the SavedModels tfzoo exports.

    saved_models/
      models.config      ModelServerConfig (text proto): every exported
                         model, its base path in the server and its
                         version policy (`--model_config_file`)
      batching.config    BatchingParameters (text proto): an example to
                         start from (`--batching_parameters_file`)

The protos come from `tensorflow-serving-api`. `models.config` is read and
updated in place: entries someone added by hand are kept (comments are
not: the file is rewritten from the parsed proto).
"""

import os

from google.protobuf import text_format
from tensorflow_serving.config import (
    file_system_storage_path_source_pb2 as storage_path)
from tensorflow_serving.config import model_server_config_pb2

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
