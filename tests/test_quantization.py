"""int8 weights: `tfzoo.quantize` and `tfzoo export --quantize int8`."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfzoo
from tfzoo.tasks import export_run
from tfzoo.models import LSTMLM, build_model
from tfzoo.quantization import quantizable_layers, quantization_mode
from tfzoo.text import CharTokenizer, encode

from tests.conftest import make_run, make_text, replay_warmup

PROMPTS = ["The king", "S", "And old men weep for"]


def folder_bytes(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def token_ids(shape, vocabulary_size=65, seed=0):
    return np.random.RandomState(seed).randint(
        0, vocabulary_size, shape).astype("int32")


@pytest.mark.slow  # about 45 s; test_the_cli_exports_int8 by default
def test_every_weight_matrix_of_a_gpt_becomes_int8():
    model = build_model("gpt-tiny", vocabulary_size=65)
    inputs = token_ids((2, 64))
    float_logits = np.asarray(model(inputs))
    assert tfzoo.quantize(model) is model
    layers = quantizable_layers(model)
    # token embedding (also the tied output layer), and per block: qkv,
    # attention output, MLP in and out.
    assert len(layers) == 1 + 4 * 4
    assert {layer.quantization_mode for layer in layers} == {"int8"}
    matrices = [w for w in model.weights if len(w.shape) == 2]
    float_matrices = [w.path for w in matrices if w.dtype != "int8"]
    # Only the learned positions stay float32.
    assert float_matrices == [
        w.path for w in matrices if "position" in w.path]
    int8_logits = np.asarray(model(inputs))
    assert np.abs(int8_logits - float_logits).max() < 0.1
    assert (int8_logits.argmax(-1) == float_logits.argmax(-1)).mean() > 0.9


def test_an_lstm_keeps_its_recurrent_kernels():
    model = LSTMLM(65, 32, embedding_dim=32, hidden_dim=32)
    model(token_ids((1, 32)))
    tfzoo.quantize(model)
    assert model.embedding.embeddings.dtype == "int8"
    assert model.head.kernel.dtype == "int8"
    lstm_weights = [w for layer in model.lstm_layers for w in layer.weights]
    assert lstm_weights
    assert {w.dtype for w in lstm_weights} == {"float32"}


@pytest.mark.parametrize("mode", ["int4", "INT8", "", "float8"])
def test_an_unknown_mode_is_refused(mode):
    model = build_model("gpt-tiny", vocabulary_size=65)
    with pytest.raises(ValueError, match="unknown quantization mode"):
        tfzoo.quantize(model, mode)
    assert quantization_mode(model) is None


@pytest.mark.slow  # about 40 s
def test_quantizing_twice_is_refused():
    model = tfzoo.quantize(build_model("gpt-tiny", vocabulary_size=65))
    with pytest.raises(ValueError, match="already quantized"):
        tfzoo.quantize(model)


def test_a_model_with_nothing_to_quantize_is_refused():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.LayerNormalization()(inputs))
    with pytest.raises(ValueError, match="no Dense or Embedding layer"):
        tfzoo.quantize(model)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A GPT (4 layers, width 128, context 64) with a character
    tokenizer, lightly trained so that greedy decoding is not flat."""
    text = make_text(3000)
    tokenizer = CharTokenizer.from_text(text)
    keras.utils.set_random_seed(0)
    model = build_model("gpt-tiny", tokenizer.vocabulary_size())
    ids = np.asarray(encode(tokenizer, text), "int32")
    windows = np.stack([ids[i:i + 65] for i in range(0, 6000, 40)])
    model.compile(keras.optimizers.Adam(2e-3),
                  keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    model.fit(windows[:, :-1], windows[:, 1:], batch_size=16, epochs=2,
              verbose=0)
    return make_run(tmp_path_factory.mktemp("runs") / "gpt", model,
                    tokenizer)


# Two exports of the run (float32 and int8) to compare: slow (about 2
# minutes); the default run exports int8 in test_the_cli_exports_int8.
SLOW_EXPORTS = pytest.mark.slow


@pytest.fixture(scope="module")
def exports(run, tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models")
    return {mode: export_run(run, mode or "float32", str(base),
                             quantize=mode)
            for mode in (None, "int8")}


# Every input of greedy decoding: Python's loader does not apply the
# SignatureDef's defaults.
GREEDY = ("dict(max_new_tokens=tf.constant({}), temperature=tf.constant(0.0), "
          "top_k=tf.constant(0), top_p=tf.constant(1.0), "
          "seed=tf.constant(1, tf.int64))")


def greedy(path, prompts=PROMPTS, max_new_tokens=20):
    generate = tf.saved_model.load(path).signatures["serving_default"]
    inputs = dict(max_new_tokens=tf.constant(max_new_tokens),
                  temperature=tf.constant(0.0), top_k=tf.constant(0),
                  top_p=tf.constant(1.0), seed=tf.constant(1, tf.int64))
    text = generate(prompt=tf.constant(prompts), **inputs)["text"]
    return [t.decode() for t in text.numpy()]


@SLOW_EXPORTS
def test_the_int8_export_is_over_three_times_smaller(exports):
    float_size = folder_bytes(os.path.join(exports[None], "variables"))
    int8_size = folder_bytes(os.path.join(exports["int8"], "variables"))
    assert float_size / int8_size > 3.0


@SLOW_EXPORTS
def test_the_int8_export_says_so_and_the_run_is_untouched(run, exports):
    for mode, path in exports.items():
        with open(os.path.join(path, "assets.extra", "tfzoo.json")) as f:
            assert json.load(f)["quantization"] == mode
    model = tfzoo.runs.loader.load_run(run).model
    assert quantization_mode(model) is None


@SLOW_EXPORTS
def test_the_int8_export_scores_like_the_float_one(exports):
    texts = tf.constant([make_text(200, seed=1)])
    scores = [tf.saved_model.load(path).signatures["score"](text=texts)
              for path in (exports[None], exports["int8"])]
    float_loss, int8_loss = (
        -float(s["log_likelihood"][0]) / float(s["token_count"][0])
        for s in scores)
    assert float_loss < 3.0  # trained: well below log(vocabulary size)
    assert abs(int8_loss - float_loss) < 0.02


@SLOW_EXPORTS
def test_the_int8_export_generates(exports):
    texts = greedy(exports["int8"], max_new_tokens=20)
    assert [len(text) for text in texts] == [20] * len(PROMPTS)
    assert greedy(exports["int8"], max_new_tokens=20) == texts


@SLOW_EXPORTS
def test_the_int8_warmup_requests_replay(exports):
    replies = replay_warmup(exports["int8"])
    assert {signature for signature, _, _ in replies} == {
        "serving_default", "score"}
    for signature, batch, outputs in replies:
        for value in outputs.values():
            assert value.shape[0] == batch


@SLOW_EXPORTS
def test_the_int8_export_loads_without_tfzoo(exports):
    code = ("import sys, tensorflow as tf\n"
            "m = tf.saved_model.load(sys.argv[1])\n"
            "print(m.signatures['serving_default'](prompt=tf.constant(['The"
            f" king']), **{GREEDY.format(5)})['text'].numpy()[0].decode())\n"
            "print(sorted(k for k in sys.modules if k.split('.')[0] in "
            "('tfzoo', 'keras_hub')))")
    result = subprocess.run([sys.executable, "-c", code, exports["int8"]],
                            capture_output=True, text=True, check=True)
    text, modules = result.stdout.splitlines()[-2:]
    assert text == greedy(exports["int8"], ["The king"], 5)[0]
    assert modules == "[]"


def test_the_cli_refuses_an_unknown_mode_and_writes_nothing(run, tmp_path):
    base = tmp_path / "saved_models"
    result = subprocess.run(
        [sys.executable, "-m", "tfzoo.cli", "export", "--run", run,
         "--name", "x", "--base-dir", str(base), "--quantize", "int4"],
        capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "tfzoo export: error: argument --quantize: invalid choice: 'int4' "
        "(choose from 'int8') (see tfzoo export --help)"]
    assert not base.exists()
    with pytest.raises(ValueError, match="unknown quantization mode"):
        export_run(run, "x", str(base), quantize="int4")
    assert not base.exists()


def test_the_cli_exports_int8(run, tmp_path):
    base = tmp_path / "saved_models"
    subprocess.run(
        [sys.executable, "-m", "tfzoo.cli", "export", "--run", run,
         "--name", "tiny", "--base-dir", str(base), "--quantize", "int8",
         "--no-warmup"], check=True, capture_output=True)
    with open(base / "tiny" / "1" / "assets.extra" / "tfzoo.json") as f:
        assert json.load(f)["quantization"] == "int8"
