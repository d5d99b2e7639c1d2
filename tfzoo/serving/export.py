"""Export a trained run as a versioned SavedModel for TF Serving.

    saved_models/
      NAME/
        1/               saved_model.pb, variables/, assets/,
                         assets.extra/ (tfzoo.json: where it came from;
                         tf_serving_warmup_requests)
        2/
        ...
      models.config      every exported model for --model_config_file
      batching.config    an example for --batching_parameters_file

TF Serving serves the highest integer version of a model folder. An export
takes the next free number, is written to a hidden temporary folder and
renamed into place, so a crash never leaves half a version and an existing
version is never overwritten. `warmup` writes the warm-up requests and
`model_config` the two config files. The temporary folder's name holds its
writer's host, process id and process start time
(`.partial-VERSION-PID-START-HOST-RANDOM`): the next export removes those
whose writer is gone (a killed export) and keeps those that a live export
is writing.
"""

import json
import os
import shutil
import tempfile

import tensorflow as tf

from tfzoo.choices import QUANTIZATION_MODES, check_choice
from tfzoo.quantization import quantization_mode, quantize as quantize_model
from tfzoo.serving import model_config
from tfzoo.serving.versions import (check_model_name, next_version,
                                    partial_prefix, remove_stale_partials,
                                    versions)
from tfzoo.serving.warmup import warmup_requests, write_warmup

DEFAULT_BASE_DIR = "saved_models"
DEFAULT_SERVING_ROOT = model_config.DEFAULT_SERVING_ROOT


def export(run, name, make_server, base_dir=DEFAULT_BASE_DIR, warmup=True,
           version_policy="latest", serving_root=DEFAULT_SERVING_ROOT,
           quantize=None):
    """Writes a loaded run's model as `base_dir/name/<next version>/`.

    The SavedModel is the string module that `make_server(run)` builds
    (a `TextGenerator`, `Translator` or `ClassifierServer`: its task
    chooses, see `tfzoo.tasks`), saved with the module's `signatures()`
    and warmed up by its `warmup_inputs()`. `tfzoo.tasks.export` is the
    call that picks `make_server` for any run.

    Args:
        run: a `tfzoo.runs.Run`.
        name: str, the model's name under `base_dir` (letters, digits,
            `.`, `_`, `-`).
        make_server: callable `run -> tf.Module` with `signatures()` and
            `warmup_inputs()`, which traces nothing until saved (so it
            saves the model quantized); it raises `ValueError` for a run
            it does not serve.
        base_dir: str, the TF Serving model base folder.
        warmup: bool, write `assets.extra/tf_serving_warmup_requests`
            (`tfzoo.serving.warmup`).
        version_policy: str, the model's policy in `base_dir/models.config`:
            `latest`, `all` or `specific:N,M`.
        serving_root: str, where the server sees `base_dir`: the model's
            `base_path` in `models.config` is `serving_root/name`.
        quantize: str or None: `"int8"` stores the weight matrices as int8
            (`tfzoo.quantization.quantize`, which changes `run.model` in
            place; a Transformer comes out over 3 times smaller); `None`
            exports `run.model` as it is.

    Returns:
        The path of the new version folder.

    Raises:
        ValueError: an invalid name; an unknown quantization mode; a
            `models.config` that does not parse, an unknown version policy
            or one naming versions that will not exist (checked before
            anything is written); `base_dir/name` is a file; a version
            folder that appeared while exporting.
    """
    check_model_name(name)
    if quantize is not None:
        check_choice("quantization mode", quantize, QUANTIZATION_MODES)
    model_dir = os.path.join(base_dir, name)
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ValueError(f"{model_dir} exists and is not a folder")
    # The server's files are checked before anything is written.
    config = model_config.read_models_config(base_dir)
    policy = model_config.parse_version_policy(version_policy)
    version = next_version(model_dir)
    model_config.check_version_policy(
        policy, versions(model_dir) + [version])
    module = make_server(run)  # refuses a run it does not serve
    if quantize is not None and quantization_mode(run.model) != quantize:
        quantize_model(run.model, quantize)
    os.makedirs(model_dir, exist_ok=True)
    remove_stale_partials(model_dir)

    temporary = tempfile.mkdtemp(prefix=partial_prefix(version),
                                 dir=model_dir)
    os.chmod(temporary, 0o755)  # mkdtemp's 0700 would hide it from a server
    try:
        tf.saved_model.save(module, temporary,
                            signatures=module.signatures())
        _write_export_info(temporary, run.run_dir, run.settings,
                           getattr(module, "jit_compile", False),
                           quantization_mode(run.model))
        if warmup:
            write_warmup(temporary,
                         warmup_requests(module.warmup_inputs(), name))
        final = os.path.join(model_dir, str(version))
        try:
            os.rename(temporary, final)  # fails if `final` appeared meanwhile
        except OSError as error:
            raise ValueError(
                f"{final} appeared while exporting; nothing was overwritten, "
                "export again"
            ) from error
    finally:
        if os.path.isdir(temporary):
            shutil.rmtree(temporary)
    model_config.update_models_config(base_dir, config, name, policy,
                                      serving_root)
    model_config.write_batching_example(base_dir)
    return final


def _write_export_info(export_dir, run_dir, settings, jit_compile,
                       quantization):
    """`assets.extra/tfzoo.json`: where the export came from (TF Serving
    ignores this folder)."""
    folder = os.path.join(export_dir, "assets.extra")
    os.makedirs(folder, exist_ok=True)
    info = {"run": os.path.abspath(run_dir), "settings": settings,
            "jit_compile": jit_compile, "quantization": quantization}
    with open(os.path.join(folder, "tfzoo.json"), "w") as f:
        json.dump(info, f, indent=1, ensure_ascii=False)
