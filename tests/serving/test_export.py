"""`tfzoo export`: versioned SavedModels that take and return raw strings.

The exports are loaded in a fresh Python process with `tf.saved_model.load`
alone, as TF Serving would load them: no tfzoo, no keras-hub import. The
process imports `tensorflow_text` to register its SentencePiece op, which
TF Serving's model server has built in.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfzoo
from tfzoo.serving.versions import next_version, partial_prefix
from tfzoo.tasks import export_run
from tfzoo.models import LSTMLM, TransformerLM
from tfzoo.text import (CharTokenizer, decode, encode,
                        train_subword_tokenizer)

from tests.conftest import make_run, make_text

CONTEXT = 32
PROMPTS = ["The king", "S", "And old men weep for"]
PAST_THE_CONTEXT = CONTEXT + 6  # new tokens: the window slides
TEXTS = ["The king and queen of night.", "x", ""]
# Token counts around the context, and ten contexts: each is scored whole.
SCORED_LENGTHS = [CONTEXT - 1, CONTEXT, CONTEXT + 1, 10 * CONTEXT]
# (model, tokenizer, XLA-compiled decoding loop?)
COMBINATIONS = [
    ("gpt", "char", True),
    ("gpt", "subword", False),
    ("lstm", "char", False),
    ("lstm", "subword", True),
]

LOADER = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    import tensorflow_text  # registers SentencepieceOp, as TF Serving has

    def call(signature, prompt, **scalars):
        dtypes = {"max_new_tokens": tf.int32, "temperature": tf.float32,
                  "top_k": tf.int32, "top_p": tf.float32, "seed": tf.int64}
        inputs = {"max_new_tokens": 10, "temperature": 0.0, "top_k": 0,
                  "top_p": 1.0, "seed": 1}
        inputs.update(scalars)
        inputs = {k: tf.constant(v, dtypes[k]) for k, v in inputs.items()}
        text = signature(prompt=tf.constant(prompt), **inputs)["text"]
        return [t.decode("utf-8") for t in text.numpy()]

    def error_of(signature, **inputs):
        try:
            signature(**{k: tf.constant(v) for k, v in inputs.items()})
        except tf.errors.InvalidArgumentError as error:
            return [line for line in str(error).splitlines()
                    if "Shape of tensor" in line][0].strip()
        return "no error"

    with open(sys.argv[1]) as f:
        long_texts = json.load(f)
    scalars = {"max_new_tokens": tf.constant(3),
               "temperature": tf.constant(1.0), "top_k": tf.constant(0),
               "top_p": tf.constant(1.0), "seed": tf.constant(1, tf.int64)}
    results = {}
    for path in sys.argv[2:]:
        loaded = tf.saved_model.load(path)
        generate = loaded.signatures["serving_default"]
        score = loaded.signatures["score"](
            text=tf.constant(%(texts)r + long_texts[path]))
        results[path] = {
            "signatures": sorted(loaded.signatures),
            "greedy": call(generate, %(prompts)r),
            "empty_and_bad_bytes": call(generate, ["", b"The \\xff\\xfe"]),
            # What the README promises each odd input equals.
            "newline_and_replacement": call(
                generate, ["\\n", "The \\ufffd\\ufffd"]),
            "zero_tokens": call(generate, ["The"], max_new_tokens=0),
            "past_the_context": call(generate, %(prompts)r,
                                     max_new_tokens=%(past)d),
            "negative_temperature": call(generate, %(prompts)r,
                                         temperature=-1.0),
            "odd_limits": call(generate, ["The"], temperature=1.0, top_k=-3,
                               top_p=5.0, seed=7),
            "limits_off": call(generate, ["The"], temperature=1.0, top_k=0,
                               top_p=1.0, seed=7),
            "zero_top_p": call(generate, %(prompts)r, temperature=1.0,
                               top_p=0.0),
            "seeded": [call(generate, ["The"] * 3, temperature=1.0, seed=5)
                       for _ in range(2)],
            "defaults": [t.decode() for t in
                         loaded.generate(tf.constant(["The"]))["text"].numpy()],
            "log_likelihood": score["log_likelihood"].numpy().tolist(),
            "token_count": score["token_count"].numpy().tolist(),
            "bad_shapes": [
                error_of(generate, prompt=[["The"]], **scalars),
                error_of(generate, prompt="The", **scalars),
                error_of(generate, prompt=["The"],
                         **{**scalars, "max_new_tokens": [3, 4]}),
                error_of(loaded.signatures["score"], text=[["The"]]),
            ],
        }
    results["tfzoo imported"] = any(m.startswith(("tfzoo", "keras_hub"))
                                    for m in sys.modules)
    print(json.dumps(results))
""") % {"texts": TEXTS, "prompts": PROMPTS, "past": PAST_THE_CONTEXT}


def build(model_kind, tokenizer_kind):
    text = make_text()
    if tokenizer_kind == "char":
        tokenizer = CharTokenizer.from_text(text)
    else:
        tokenizer = train_subword_tokenizer(text, vocabulary_size=300)
    size = tokenizer.vocabulary_size()
    if model_kind == "gpt":
        model = TransformerLM(size, CONTEXT, num_layers=2, num_heads=2,
                              hidden_dim=32)
    else:
        model = LSTMLM(size, CONTEXT, embedding_dim=16, hidden_dim=32)
    return model, tokenizer


def text_of_length(tokenizer, length):
    """A text of exactly `length` tokens of `tokenizer`."""
    ids = encode(tokenizer, make_text(seed=1))
    for cut in range(length, length + 20):  # a cut can merge tokens
        text = tokenizer.detokenize(ids[:cut])
        text = text.numpy().decode() if hasattr(text, "numpy") else text
        if len(encode(tokenizer, text)) == length:
            return text
    raise AssertionError(f"no text of {length} tokens")


def sliding_log_likelihood(model, ids, stride=CONTEXT // 2):
    """The scoring rule, written out token by token: token t >= 1 is
    predicted by the window that starts at 0 if t <= L, else at
    k * stride with k = ceil((t - L) / stride)."""
    total, window_logits = 0.0, {}
    for t in range(1, len(ids)):
        k = 0 if t <= CONTEXT else -(-(t - CONTEXT) // stride)
        start = k * stride
        if start not in window_logits:
            window = np.zeros(CONTEXT, np.int32)
            piece = ids[start:start + CONTEXT]
            window[:len(piece)] = piece
            window_logits[start] = np.asarray(model(window[None]),
                                              np.float64)[0]
        logits = window_logits[start][t - start - 1]
        logits = logits - logits.max()
        total += logits[ids[t]] - np.log(np.exp(logits).sum())
    return total


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Runs, their exports, and what a fresh process reads from them."""
    root = tmp_path_factory.mktemp("export")
    # Seed once, before any tokenizer: tf.random.set_seed clears TensorFlow's
    # kernel cache, which frees the resource of every SentencePiece
    # tokenizer made before it (a tensorflow-text limitation).
    keras.utils.set_random_seed(2)
    exported = {}
    for model_kind, tokenizer_kind, xla in COMBINATIONS:
        model, tokenizer = build(model_kind, tokenizer_kind)
        name = f"{model_kind}-{tokenizer_kind}"
        run = make_run(root / "runs" / name, model, tokenizer)
        path = export_run(run, name, base_dir=str(root / "saved_models"),
                          jit_compile=xla)
        exported[name] = (path, model, tokenizer)
    paths = [path for path, _, _ in exported.values()]
    long_texts = root / "long_texts.json"
    long_texts.write_text(json.dumps({
        path: [text_of_length(tokenizer, n) for n in SCORED_LENGTHS]
        for path, _, tokenizer in exported.values()}))
    loaded = subprocess.run(
        [sys.executable, "-c", LOADER, str(long_texts), *paths],
        capture_output=True,
        text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    results = json.loads(loaded.stdout.strip().splitlines()[-1])
    return root, exported, results


def test_layout_is_what_tf_serving_reads(exports):
    root, exported, _ = exports
    for name, (path, _, _) in exported.items():
        assert path == str(root / "saved_models" / name / "1")
        assert os.path.isfile(os.path.join(path, "saved_model.pb"))
        assert os.path.isdir(os.path.join(path, "variables"))
        assert os.listdir(os.path.dirname(path)) == ["1"]  # nothing partial
        assert os.stat(path).st_mode & 0o755 == 0o755


def test_loads_without_tfzoo_and_has_both_signatures(exports):
    _, exported, results = exports
    assert results["tfzoo imported"] is False
    for path, _, _ in exported.values():
        assert results[path]["signatures"] == ["score", "serving_default"]


def test_exported_greedy_equals_in_process_greedy(exports):
    _, exported, results = exports
    for path, model, tokenizer in exported.values():
        expected = tfzoo.generate(model, tokenizer, PROMPTS,
                                  max_new_tokens=10, temperature=0)
        assert results[path]["greedy"] == expected, path
        assert results[path]["negative_temperature"] == expected, path


def test_score_is_the_models_log_likelihood(exports):
    _, exported, results = exports
    for path, model, tokenizer in exported.values():
        texts = TEXTS + [text_of_length(tokenizer, n) for n in SCORED_LENGTHS]
        in_python = tfzoo.score(model, tokenizer, texts)
        for i, text in enumerate(texts):
            ids = encode(tokenizer, text)
            expected = sliding_log_likelihood(model, ids)
            assert results[path]["token_count"][i] == max(len(ids) - 1, 0)
            assert in_python["token_count"][i] == max(len(ids) - 1, 0)
            for found in (results[path]["log_likelihood"][i],
                          in_python["log_likelihood"][i]):
                assert found == pytest.approx(expected, rel=1e-4, abs=1e-3)


def test_bad_input_shapes_are_named(exports):
    _, exported, results = exports
    for path, _, _ in exported.values():
        assert results[path]["bad_shapes"] == [
            "Shape of tensor prompt [1,1] is not compatible with expected "
            "shape [?].",
            "Shape of tensor prompt [] is not compatible with expected "
            "shape [?].",
            "Shape of tensor max_new_tokens [2] is not compatible with "
            "expected shape [].",
            "Shape of tensor text [1,1] is not compatible with expected "
            "shape [?].",
        ]


def test_serving_clamps_odd_inputs(exports):
    # Each rule of the README, by content.
    _, exported, results = exports
    for path, _, _ in exported.values():
        result = results[path]
        # An empty prompt starts from a newline; invalid UTF-8 becomes
        # U+FFFD (greedy, so the same input gives the same text).
        assert result["empty_and_bad_bytes"] == result[
            "newline_and_replacement"], path
        assert result["zero_tokens"] == [""]
        # top_k <= 0 and top_p >= 1 turn those limits off: the same text
        # as with them off, from the same seed.
        assert result["odd_limits"] == result["limits_off"], path
        assert result["zero_top_p"] == result["greedy"]  # only the top token
        first, second = result["seeded"]
        assert first == second
        assert len(result["defaults"]) == 1


def test_past_the_context_the_exported_window_slides(exports):
    # Greedy, token by token, each predicted from the last CONTEXT tokens
    # (nanoGPT's cropped context), against serving_default.
    # (The batch holds the three prompts; the reference, slow, checks two.)
    _, exported, results = exports
    for path, model, tokenizer in exported.values():
        expected = []
        for prompt in PROMPTS[1:]:
            ids = list(encode(tokenizer, prompt))
            start = len(ids)
            for _ in range(PAST_THE_CONTEXT):
                logits = model(np.array([ids[-CONTEXT:]], "int32"))[0, -1]
                ids.append(int(np.argmax(logits)))
            expected.append(decode(tokenizer, ids[start:]))
        assert results[path]["past_the_context"][1:] == expected, path


def test_saved_model_cli_lists_the_signatures(exports):
    _, exported, _ = exports
    path = exported["gpt-char"][0]
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli, "show", "--all", "--dir", path],
                           capture_output=True, text=True, check=True).stdout

    def inputs_of(signature):
        block = shown.split(f"signature_def['{signature}']:")[1]
        block = block.split("Method name is")[0]
        found = {}
        for part in block.split("['")[1:]:
            name = part.split("']")[0]
            found[name] = part.split("dtype: ")[1].split()[0]
        return found

    assert inputs_of("serving_default") == {
        "max_new_tokens": "DT_INT32", "prompt": "DT_STRING",
        "seed": "DT_INT64", "temperature": "DT_FLOAT", "top_k": "DT_INT32",
        "top_p": "DT_FLOAT", "text": "DT_STRING",
    }
    assert inputs_of("score") == {
        "text": "DT_STRING", "log_likelihood": "DT_FLOAT",
        "token_count": "DT_INT32",
    }
    # Only standard ops: no XLA-only op that a server without XLA lacks.
    ops = shown.split("contains the following ops: {")[1].split("}")[0]
    assert "Xla" not in ops and "While" in ops


def test_optional_inputs_have_defaults_in_the_signature(exports):
    # TF Serving fills inputs a request leaves out from these defaults.
    _, exported, _ = exports
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    path = os.path.join(exported["gpt-char"][0], "saved_model.pb")
    with open(path, "rb") as f:
        proto.ParseFromString(f.read())
    signature = proto.meta_graphs[0].signature_def["serving_default"]
    defaults = {name: tf.make_ndarray(value).item()
                for name, value in signature.defaults.items()}
    assert defaults == {"max_new_tokens": 100, "temperature": 1.0,
                        "top_k": 0, "top_p": 1.0, "seed": -1}


def test_versions_are_never_overwritten(exports, tmp_path, monkeypatch):
    root, _, _ = exports
    run = str(root / "runs" / "gpt-char")
    base = str(tmp_path / "saved_models")
    first = export_run(run, "m", base_dir=base, jit_compile=False)
    marker = os.path.join(first, "assets.extra", "tfzoo.json")
    before = open(marker).read()
    os.makedirs(os.path.join(base, "m", "7"))  # a version made elsewhere
    assert next_version(os.path.join(base, "m")) == 8
    assert export_run(run, "m", base_dir=base, jit_compile=False).endswith(
        os.path.join("m", "8"))
    assert open(marker).read() == before

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        export_run(run, "m", base_dir=base)
    assert sorted(os.listdir(os.path.join(base, "m"))) == ["1", "7", "8"]


def test_a_killed_exports_partial_folder_is_removed_by_the_next(exports,
                                                                tmp_path):
    root, _, _ = exports
    model_dir = tmp_path / "saved_models" / "m"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a writer that no longer runs: a killed export
    stale = model_dir / (partial_prefix(3, gone.pid) + "abcd1234")
    live = model_dir / (partial_prefix(3) + "efgh5678")  # this process
    # This process's id with another start time: an id since reused.
    _, _, pid, start, host = partial_prefix(3).split("-", 4)
    reused = model_dir / f".partial-3-{pid}-{int(start) + 1}-{host}ijkl9012"
    old = model_dir / ".partial-3-mnop3456"  # an older tfzoo's: unknown
    other_host = model_dir / f".partial-3-{gone.pid}-7-elsewhere-qrst7890"
    for folder in (stale, live, reused, old, other_host):
        (folder / "variables").mkdir(parents=True)
    export_run(str(root / "runs" / "gpt-char"), "m",
               base_dir=str(tmp_path / "saved_models"), jit_compile=False)
    expected = ["1", live.name, old.name, other_host.name]
    if not os.path.isdir("/proc"):  # no process start times to compare
        expected.append(reused.name)
    assert sorted(os.listdir(model_dir)) == sorted(expected)


@pytest.mark.parametrize("name", ["../escape", "", "a/b", ".hidden"])
def test_bad_names_are_refused(exports, tmp_path, name):
    root, _, _ = exports
    with pytest.raises(ValueError, match="invalid model name"):
        export_run(str(root / "runs" / "gpt-char"), name,
                   base_dir=str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_score_takes_no_texts_and_texts_with_nothing_to_score(exports):
    _, exported, _ = exports
    _, model, tokenizer = exported["gpt-char"]
    empty = tfzoo.score(model, tokenizer, [])
    assert empty["log_likelihood"].shape == empty["token_count"].shape == (0,)
    nothing = tfzoo.score(model, tokenizer, ["", "x", ""])
    assert nothing["token_count"].tolist() == [0, 0, 0]
    assert nothing["log_likelihood"].tolist() == [0.0, 0.0, 0.0]
