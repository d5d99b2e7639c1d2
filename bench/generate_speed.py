"""Generation speed: cached vs uncached, in-process vs SavedModel, vs keras-hub.

    python bench/generate_speed.py [--run runs/NAME] [--repeats 2]

Prints new tokens per second (batch x new tokens / seconds) for greedy
decoding of 255 new tokens after a one-character prompt, at batch 1 and 8,
with a `gpt-shakespeare-char` model (random weights unless --run is given;
speed does not depend on the weights). 255 is the most a context of 256
allows after one prompt token. Each figure is the best of --repeats timed
calls after one untimed call (which traces and compiles).

Rows:
- tfzoo cached: `tfzoo.generate` (key/value cache, XLA-compiled loop).
- tfzoo uncached: the same loop re-running the whole model at each step.
- SavedModel (XLA) / (plain graph): `tfzoo export`'s serving_default,
  loaded with `tf.saved_model.load`, with and without `--no-xla`.
- keras-hub GPT2CausalLM: `generate` of a GPT2Backbone of the same sizes
  (random weights), greedy sampler, XLA-compiled as keras-hub does.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfzoo  # noqa: E402
from tfzoo.serving import TextGenerator  # noqa: E402
from tfzoo.models import build_model  # noqa: E402
from tfzoo.text import CharTokenizer  # noqa: E402
from tfzoo.runs.loader import load_run  # noqa: E402

NEW_TOKENS = 255
PROMPT = "\n"


def best_time(function, repeats):
    function()  # trace and compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def saved_model_call(model, tokenizer, jit_compile, folder):
    generator = TextGenerator(model, tokenizer, jit_compile=jit_compile)
    path = os.path.join(folder, "xla" if jit_compile else "plain")
    tf.saved_model.save(generator, path, signatures={
        "serving_default": generator.generate})
    signature = tf.saved_model.load(path).signatures["serving_default"]

    def call(batch):
        return signature(
            prompt=tf.constant([PROMPT] * batch),
            max_new_tokens=tf.constant(NEW_TOKENS),
            temperature=tf.constant(0.0), top_k=tf.constant(0),
            top_p=tf.constant(1.0), seed=tf.constant(0, tf.int64))["text"]

    return call


def keras_hub_call(model):
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=model.vocabulary_size,
        num_layers=model.num_layers,
        num_heads=model.num_heads,
        hidden_dim=model.hidden_dim,
        intermediate_dim=model.intermediate_dim,
        dropout=0.0,
        max_sequence_length=model.max_sequence_length,
    )
    causal_lm = keras_hub.models.GPT2CausalLM(
        backbone=backbone, preprocessor=None, sampler="greedy")

    def call(batch):
        length = model.max_sequence_length
        padding_mask = np.zeros((batch, length), bool)
        padding_mask[:, 0] = True
        inputs = {"token_ids": np.ones((batch, length), "int32"),
                  "padding_mask": padding_mask}
        return causal_lm.generate(inputs, max_length=length,
                                  stop_token_ids=None)

    return call


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a run folder (default: random "
                        "gpt-shakespeare-char weights)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()

    if args.run:
        run = load_run(args.run)
        model, tokenizer = run.model, run.tokenizer
    else:
        keras.utils.set_random_seed(0)
        # Tiny Shakespeare's 65 characters, as gpt-shakespeare-char has.
        tokenizer = CharTokenizer.from_text(
            "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        model = build_model("gpt-shakespeare-char",
                            tokenizer.vocabulary_size())
    print(f"model: {model.num_layers} layers, {model.num_heads} heads, width "
          f"{model.hidden_dim}, context {model.max_sequence_length}, "
          f"{model.count_params():,} parameters; {NEW_TOKENS} new tokens, "
          "greedy", flush=True)

    def in_process(use_cache):
        return lambda batch: tfzoo.generate(
            model, tokenizer, [PROMPT] * batch, max_new_tokens=NEW_TOKENS,
            temperature=0, use_cache=use_cache)

    folder = tempfile.mkdtemp()
    rows = {
        "tfzoo cached": in_process(True),
        "tfzoo uncached": in_process(False),
        "SavedModel (XLA)": saved_model_call(model, tokenizer, True, folder),
        "SavedModel (plain graph)": saved_model_call(model, tokenizer, False,
                                                     folder),
        "keras-hub GPT2CausalLM": keras_hub_call(model),
    }
    rates = {}
    header = "".join(f"{'batch ' + str(b):>14}" for b in args.batches)
    print(f"{'new tokens/s':<26}{header}")
    for name, call in rows.items():
        line = f"{name:<26}"
        for batch in args.batches:
            seconds = best_time(lambda: call(batch), args.repeats)
            rates[name, batch] = batch * NEW_TOKENS / seconds
            line += f"{rates[name, batch]:>14,.0f}"
        print(line, flush=True)

    for batch in args.batches:
        cached = rates["tfzoo cached", batch]
        print(f"batch {batch}: cached / uncached "
              f"{cached / rates['tfzoo uncached', batch]:.1f}x (target >= "
              f"10); tfzoo / keras-hub "
              f"{cached / rates['keras-hub GPT2CausalLM', batch]:.2f}x "
              f"(target >= 1); in-process / SavedModel (XLA) "
              f"{cached / rates['SavedModel (XLA)', batch]:.2f}x, "
              f"(plain graph) "
              f"{cached / rates['SavedModel (plain graph)', batch]:.2f}x "
              "(target <= 1.2)")


if __name__ == "__main__":
    main()
