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
version is never overwritten. `tfzoo.serving` writes the warm-up
requests and the two config files. The temporary folder's name holds its
writer's host, process id and process start time
(`.partial-VERSION-PID-START-HOST-RANDOM`): the next export removes those
whose writer is gone (a killed export) and keeps those that a live export
is writing.
"""

import json
import os
import re
import shutil
import socket
import tempfile

import tensorflow as tf

from tfzoo import serving
from tfzoo.choices import QUANTIZATION_MODES, check_choice
from tfzoo.generation.signatures import serving_function
from tfzoo.generation.text_generator import TextGenerator
from tfzoo.generation.translator import Translator
from tfzoo.quantization import quantization_mode, quantize as quantize_model
from tfzoo.training.loader import load_run

DEFAULT_BASE_DIR = "saved_models"
DEFAULT_SERVING_ROOT = serving.DEFAULT_SERVING_ROOT
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# .partial-VERSION-PID-START-HOST-RANDOM (mkdtemp's RANDOM has no "-").
_PARTIAL = re.compile(r"^\.partial-\d+-(\d+)-(\d+)-(.+)-[^-]+$")


def next_version(model_dir):
    """1 + the highest integer version folder in `model_dir` (1 if none)."""
    return max(_versions(model_dir), default=0) + 1


def export_run(run_dir, name, base_dir=DEFAULT_BASE_DIR, jit_compile=True,
               end_token_id=None, labels=None, **options):
    """Writes the finished run in `run_dir` as `base_dir/name/<version>/`:
    `export(load_run(run_dir), ...)` (`options`: `export`'s `warmup`,
    `version_policy`, `serving_root`, `quantize`)."""
    check_model_name(name)  # before the model loads
    return export(load_run(run_dir), name, base_dir, jit_compile,
                  end_token_id, labels, **options)


def export(run, name, base_dir=DEFAULT_BASE_DIR, jit_compile=True,
           end_token_id=None, labels=None, warmup=True,
           version_policy="latest", serving_root=DEFAULT_SERVING_ROOT,
           quantize=None):
    """Writes a loaded run's model as `base_dir/name/<next version>/`.

    A classifier run gets the signatures of `ClassifierServer`; a
    translation run `serving_default` of `Translator`: `source` (string)
    and the optional scalars `beam_width` (int32, default 1: greedy,
    clamped to [1, 8]) and `max_new_tokens` (int32, default the max
    sequence length) -> `translation` (string). A language model's
    signatures (inputs and outputs batched along the first axis):

    - `serving_default`: `prompt` (string) and the optional scalars
      `max_new_tokens` (int32, default 100), `temperature` (float32,
      default 1.0), `top_k` (int32, 0), `top_p` (float32, 1.0), `seed`
      (int64, -1: random) -> `text` (string), the continuation.
    - `score`: `text` (string) -> `log_likelihood` (float32) and
      `token_count` (int32).

    Args:
        run: a `tfzoo.training.loader.Run`.
        name: str, the model's name under `base_dir` (letters, digits,
            `.`, `_`, `-`).
        base_dir: str, the TF Serving model base folder.
        jit_compile: bool. Compile the decoding loop with XLA (default):
            several times faster, but TF Serving on CPU then needs its flag
            `--xla_cpu_compilation_enabled=true`. `False` gives a plain graph
            that any TensorFlow runtime runs.
        end_token_id: int or None, an id that ends generation.
        labels: list of str or None: a classifier's class names (default:
            those of its training data).
        warmup: bool, write `assets.extra/tf_serving_warmup_requests`
            (`tfzoo.serving.warmup_requests`).
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
        ValueError: an invalid name; an MLM or n-gram run; an unknown
            quantization mode; a
            `models.config` that does not parse, an unknown version policy
            or one naming versions that will not exist (checked before
            anything is written); `end_token_id` for a
            classifier or translation run; `base_dir/name` is a file; a version folder that
            appeared while exporting.

    Example:
    >>> export(load_run("runs/tiny"), "shakespeare")
    'saved_models/shakespeare/1'
    """
    check_model_name(name)
    if quantize is not None:
        check_choice("quantization mode", quantize, QUANTIZATION_MODES)
    if run.settings.get("model") == "ngram":
        raise ValueError(f"{run.run_dir} is an n-gram run; tfzoo export "
                         "writes neural models (score and sample n-grams "
                         "with tfzoo eval and tfzoo generate)")
    if run.task == "masked_lm":
        raise ValueError(f"{run.run_dir} is an MLM run; export a language "
                         "model or a classifier (fine-tune it with --init)")
    if run.task == "classification":
        if end_token_id is not None:
            raise ValueError("an end token applies to language models only")
        module = ClassifierServer(run.model, run.tokenizer,
                                  labels or run.labels)
        signatures = {"serving_default": module.classify}
    elif run.task == "translation":
        if end_token_id is not None:
            raise ValueError("an end token applies to language models only")
        module = Translator(run.model, run.tokenizer,
                            jit_compile=jit_compile)
        signatures = {"serving_default": module.translate}
    else:
        module = TextGenerator(run.model, run.tokenizer,
                               jit_compile=jit_compile,
                               end_token_id=end_token_id)
        signatures = {"serving_default": module.generate,
                      "score": module.score}
    model_dir = os.path.join(base_dir, name)
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ValueError(f"{model_dir} exists and is not a folder")
    # The server's files are checked before anything is written.
    config = serving.read_models_config(base_dir)
    policy = serving.parse_version_policy(version_policy)
    version = next_version(model_dir)
    serving.check_version_policy(
        policy, _versions(model_dir) + [version])
    if quantize is not None and quantization_mode(run.model) != quantize:
        quantize_model(run.model, quantize)
    os.makedirs(model_dir, exist_ok=True)
    remove_stale_partials(model_dir)

    temporary = tempfile.mkdtemp(prefix=partial_prefix(version),
                                 dir=model_dir)
    os.chmod(temporary, 0o755)  # mkdtemp's 0700 would hide it from a server
    try:
        tf.saved_model.save(module, temporary, signatures=signatures)
        _write_export_info(temporary, run.run_dir, run.settings, jit_compile,
                           quantization_mode(run.model))
        if warmup:
            serving.write_warmup(temporary,
                                 serving.warmup_requests(run.task, name))
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
    serving.update_models_config(base_dir, config, name, policy,
                                 serving_root)
    serving.write_batching_example(base_dir)
    return final


def _versions(model_dir):
    """The integer version folders in `model_dir`."""
    if not os.path.isdir(model_dir):
        return []
    return [int(n) for n in os.listdir(model_dir) if n.isdigit()]


def partial_prefix(version, pid=None):
    """The start of the name of the hidden folder that an export of
    `version` by process `pid` (default: this one) writes into."""
    pid = os.getpid() if pid is None else pid
    return f".partial-{version}-{pid}-{_start_time(pid)}-{_host()}-"


def remove_stale_partials(model_dir):
    """Removes the `.partial-*` folders in `model_dir` whose writer process
    has ended (a killed export). Keeps those whose writer lives, or may: on
    another host, or named by an older tfzoo without a process id."""
    for name in os.listdir(model_dir):
        match = _PARTIAL.match(name)
        if match and not _writer_may_live(int(match.group(1)),
                                          int(match.group(2)),
                                          match.group(3)):
            shutil.rmtree(os.path.join(model_dir, name), ignore_errors=True)


def _writer_may_live(pid, start, host):
    if host != _host():
        return True  # its processes are not ours to see
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    # The same id with another start time is a new process (ids are reused).
    now = _start_time(pid)
    return not (start and now and now != start)


def _start_time(pid):
    """When process `pid` started, in clock ticks since boot (0: unknown,
    outside Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name, in parentheses, may hold spaces.
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def _host():
    """This machine's name, as a folder name may hold it."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "host"


def check_model_name(name):
    """`ValueError` unless `name` is a valid model folder name."""
    if not _NAME.match(name):
        raise ValueError(
            f"invalid model name {name!r}: use letters, digits, '.', '_' "
            "and '-', starting with a letter or digit"
        )


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


class ClassifierServer(tf.Module):
    """A classifier and its preprocessor behind one string signature.

    `classify(text, text_pair)`: `text` (string, batch) and optionally
    `text_pair` (string, batch; leave it out, or send an empty list, for
    single texts) -> `probabilities` (float32, batch x classes), `label_id`
    (int32) and `label` (string). Texts longer than the run's max length
    are truncated (the longer of a pair first).
    """

    def __init__(self, model, preprocessor, labels):
        super().__init__(name="classifier")
        if len(labels) != model.output_shape[-1]:
            raise ValueError(f"{len(labels)} labels for a model of "
                             f"{model.output_shape[-1]} classes")
        self.model = model
        self.preprocessor = preprocessor
        self.labels = tf.constant(list(labels))

        def classify(text, text_pair=tf.constant([], tf.string)):
            text = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8",
                                                errors="replace")
            text_pair = tf.strings.unicode_transcode(
                text_pair, "UTF-8", "UTF-8", errors="replace")
            inputs = tf.cond(
                tf.size(text_pair) > 0,
                lambda: self.preprocessor(text, text_pair),
                lambda: self.preprocessor(text),
            )
            probabilities = tf.nn.softmax(self.model(inputs, training=False))
            label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
            return {"probabilities": probabilities, "label_id": label_id,
                    "label": tf.gather(self.labels, label_id)}

        self.classify = serving_function(classify, [
            tf.TensorSpec([None], tf.string, name="text"),
            tf.TensorSpec([None], tf.string, name="text_pair"),
        ])
