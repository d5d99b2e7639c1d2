"""The exports under TF Serving's TensorFlow runtime, which lags tfzoo's.

The newest TF Serving line runs TensorFlow 2.20 while tfzoo trains with
2.21; a SavedModel that uses an op or attribute the older runtime lacks
fails to load there ("Op type not registered", "NodeDef mentions attr").
This check makes a virtual environment with that runtime (`tensorflow`
and `tensorflow-text` only; the version is `TFZOO_SERVING_RUNTIME`,
default 2.20), loads one export of every kind in a process that imports
nothing else, calls every signature, and compares the outputs with the
same calls in the training environment: the same greedy texts, scores
within 1e-4.

    TFZOO_DATA_DIR=../shared/data .venv/bin/python -m pytest -m slow \\
        tests/serving/test_serving_runtime.py

Slow: the first run installs the runtime (about 600 MB) into
`~/.cache/tfzoo/serving-runtime-VERSION`.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import pytest

from tfzoo.cli import main
from tfzoo.tasks import export_run

from tests.conftest import make_run
from tests.models.tiny_checkpoints import (llama_config, llama_weights,
                                           write_llama_gguf)
from tests.serving.test_export import build
from tests.training.test_classifier import write_examples
from tests.training.test_translation import make_pairs, write_pairs

RUNTIME = os.environ.get("TFZOO_SERVING_RUNTIME", "2.20")

# Calls every signature of an export with fixed inputs; prints JSON.
CALLER = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (ops TF Serving has built in)

    def plain(outputs):
        result = {}
        for key, value in sorted(outputs.items()):
            value = value.numpy()
            if value.dtype == object:
                result[key] = [v.decode("utf-8", "replace")
                               for v in value.reshape(-1)]
            else:
                result[key] = value.reshape(-1).tolist()
        return result

    texts = ["ROMEO:", "The king and queen", ""]
    results = {"tensorflow": tf.__version__}
    for path in sys.argv[1:]:
        loaded = tf.saved_model.load(path)
        calls = {}
        for name, signature in sorted(loaded.signatures.items()):
            inputs = set(signature.structured_input_signature[1])
            if "role" in inputs:  # a chat model's conversations
                calls[name] = plain(signature(
                    role=tf.constant([["user"], ["user"]]),
                    content=tf.constant([["the king"], ["and you"]]),
                    system=tf.constant(""), max_new_tokens=tf.constant(12),
                    temperature=tf.constant(0.0), top_k=tf.constant(0),
                    top_p=tf.constant(1.0), seed=tf.constant(1, tf.int64)))
            elif "prompt" in inputs:  # greedy, so the text is one
                calls[name] = plain(signature(
                    prompt=tf.constant(texts),
                    max_new_tokens=tf.constant(12),
                    temperature=tf.constant(0.0),
                    top_k=tf.constant(0), top_p=tf.constant(1.0),
                    seed=tf.constant(1, tf.int64)))
            elif "source" in inputs:
                for width in (1, 4):
                    calls[f"{name}/beam{width}"] = plain(signature(
                        source=tf.constant(texts),
                        beam_width=tf.constant(width),
                        max_new_tokens=tf.constant(16)))
            elif "text_pair" in inputs:
                calls[name] = plain(signature(
                    text=tf.constant(texts),
                    text_pair=tf.constant([], tf.string)))
            else:
                calls[name] = plain(signature(text=tf.constant(texts)))
        results[path] = calls
    results["others imported"] = sorted(
        m for m in sys.modules if m.startswith(("tfzoo", "keras_hub")))
    print(json.dumps(results))
""")


def runtime_python():
    """The Python of a venv with TF Serving's TensorFlow (made once)."""
    folder = os.path.join(os.path.expanduser("~"), ".cache", "tfzoo",
                          f"serving-runtime-{RUNTIME}")
    python = os.path.join(folder, "bin", "python")
    if not os.path.isfile(python):
        subprocess.run([sys.executable, "-m", "venv", folder], check=True)
        subprocess.run(
            [python, "-m", "pip", "install", "-q",
             f"tensorflow=={RUNTIME}.*", f"tensorflow-text=={RUNTIME}.*"],
            check=True)
    return python


def call_all(python, paths):
    result = subprocess.run(
        [python, "-c", CALLER, *paths], capture_output=True, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """One export of every kind, from tiny runs."""
    root = tmp_path_factory.mktemp("runtime")
    base = str(root / "saved_models")
    keras.utils.set_random_seed(5)
    paths = {}
    for model_kind, tokenizer_kind, xla in (("gpt", "char", True),
                                            ("gpt", "subword", False),
                                            ("lstm", "char", False)):
        model, tokenizer = build(model_kind, tokenizer_kind)
        name = f"{model_kind}-{tokenizer_kind}"
        run = make_run(root / "runs" / name, model, tokenizer)
        paths[name] = export_run(run, name, base_dir=base, jit_compile=xla)
    # int8 weights (`--quantize int8`), with and without XLA.
    for xla in (True, False):
        model, tokenizer = build("gpt", "char")
        name = f"gpt-char-int8-{'xla' if xla else 'graph'}"
        run = make_run(root / "runs" / name, model, tokenizer)
        paths[name] = export_run(run, name, base_dir=base, jit_compile=xla,
                                 quantize="int8")
    # An imported llama chat model: byte-level BPE, grouped-query
    # attention, the chat signature.
    config = llama_config(max_position_embeddings=128)
    gguf_path = str(root / "tiny.gguf")
    write_llama_gguf(gguf_path, config, llama_weights(config))
    run = str(root / "runs" / "llama-chat")
    assert main(["import", gguf_path, "--out", run]) == 0
    assert main(["export", "--run", run, "--name", "llama-chat",
                 "--base-dir", base]) == 0
    paths["llama-chat"] = os.path.join(base, "llama-chat", "1")
    labelled = (write_examples(root / "train.tsv", 200, 0),
                write_examples(root / "dev.tsv", 50, 1))
    pairs = write_pairs(root / "pairs.tsv", make_pairs())
    trainings = {
        "transformer-classifier": [
            "--train", labelled[0], "--val", labelled[1], "--epochs", "1",
            "--steps-per-epoch", "3", "--max-sequence-length", "24"],
        "seq2seq": [
            "--preset", "seq2seq-tiny", "--train", pairs, "--val", pairs,
            "--steps", "3", "--vocab-size", "500",
            "--max-sequence-length", "48"],
    }
    for model, arguments in trainings.items():
        run = str(root / "runs" / model)
        assert main(["train", "--model", model, *arguments, "--out",
                     run]) == 0
        assert main(["export", "--run", run, "--name", model, "--base-dir",
                     base]) == 0
        paths[model] = os.path.join(base, model, "1")
    return paths


@pytest.mark.slow
def test_every_export_serves_the_same_under_tf_servings_runtime(exports):
    paths = list(exports.values())
    here = call_all(sys.executable, paths)
    there = call_all(runtime_python(), paths)
    assert there["tensorflow"].startswith(RUNTIME + ".")
    assert there["others imported"] == []
    for kind, path in exports.items():
        for call, outputs in here[path].items():
            for key, expected in outputs.items():
                found = there[path][call][key]
                if expected and isinstance(expected[0], str):
                    assert found == expected, (kind, call, key)
                else:
                    assert found == pytest.approx(expected, abs=1e-4), (
                        kind, call, key)
