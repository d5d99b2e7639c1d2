"""Training throughput of tfzoo's GPT presets, against the machine's matmul rate.

Prints, for `gpt-tiny` and `gpt-shakespeare-char`, training tokens/s through
`model.fit` (the same compiled step as `tfzoo train`) and the fraction of
this machine's float32 matmul FLOP/s that the step reaches, counting
6 x non-embedding parameters + 12 x layers x width x context FLOPs per token.
As references it also trains, in the same run, a stack of keras-hub
`TransformerDecoder` layers of gpt-tiny's sizes, `gpt-shakespeare-char`
with Keras's own dropout in place of tfzoo's `FastDropout`, and for each
preset a model of its matmuls only (the same Dense layers with attention,
LayerNorm, GELU and dropout left out; 6 x non-embedding parameters FLOPs per
token): the fraction of the matmul rate that `model.fit` reaches at these
sizes when there is nothing but matmuls to do, a ceiling for any layers.

    python bench/train_throughput.py [--steps 30] [--matmul-size 4096]
"""

import argparse
import contextlib
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfzoo.layers import FastDropout  # noqa: E402
from tfzoo.models import build_model, get_preset  # noqa: E402
from tfzoo.tasks import language_model  # noqa: E402

VOCABULARY_SIZE = 65  # Tiny Shakespeare's characters


def matmul_flops_per_second(size, repeats=10):
    """Best float32 matmul rate of plain TensorFlow and XLA, in FLOP/s."""
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    best = 0.0
    for jit_compile in (False, True):
        matmul = tf.function(tf.matmul, jit_compile=jit_compile)
        matmul(a, b).numpy()
        start = time.perf_counter()
        for _ in range(repeats):
            matmul(a, b).numpy()
        seconds = (time.perf_counter() - start) / repeats
        best = max(best, 2 * size**3 / seconds)
    return best


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def training_tokens_per_second(model, batch_size, max_sequence_length, steps,
                               preset):
    """Tokens/s of `model.fit` once compiled (a first epoch warms up)."""
    settings = language_model.make_settings(get_preset(preset)["model"],
                                            preset)
    language_model.compile(model, settings, total_steps=10**6)
    ids = np.random.default_rng(0).integers(
        0, VOCABULARY_SIZE, (batch_size, max_sequence_length + 1)
    ).astype("int32")
    data = tf.data.Dataset.from_tensors((ids[:, :-1], ids[:, 1:])).repeat()
    timer = EpochTimer()
    model.fit(data, steps_per_epoch=steps, epochs=2, callbacks=[timer],
              shuffle=False, verbose=0)
    return batch_size * max_sequence_length * steps / timer.seconds


def flops_per_token(num_layers, hidden_dim, max_sequence_length,
                    non_embedding_parameters):
    return (6 * non_embedding_parameters
            + 12 * num_layers * hidden_dim * max_sequence_length)


def non_embedding_parameters(model):
    return model.count_params() - sum(
        int(np.prod(w.shape)) for w in model.weights
        if "embedding" in w.path)


def keras_hub_decoder_stack(num_layers, num_heads, hidden_dim,
                            max_sequence_length, intermediate_dim, dropout):
    """keras-hub's TransformerDecoder layers in a GPT of the same sizes."""
    token_ids = keras.Input((None,), dtype="int32")
    embedding = keras_hub.layers.TokenAndPositionEmbedding(
        VOCABULARY_SIZE, max_sequence_length, hidden_dim)
    x = embedding(token_ids)
    for _ in range(num_layers):
        x = keras_hub.layers.TransformerDecoder(
            intermediate_dim, num_heads, dropout=dropout,
            activation="gelu", normalize_first=True)(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5)(x)
    logits = embedding.token_embedding(x, reverse=True)
    model = keras.Model(token_ids, logits)
    model.max_sequence_length = max_sequence_length
    return model


def matmul_only_stack(num_layers, hidden_dim, intermediate_dim):
    """A GPT's matmuls alone: per layer the fused QKV projection (its three
    parts summed in place of attention), the output projection and the
    two MLP projections, with residuals; a tied output head."""
    token_ids = keras.Input((None,), dtype="int32")
    embedding = keras_hub.layers.ReversibleEmbedding(
        VOCABULARY_SIZE, hidden_dim)
    x = embedding(token_ids)
    for _ in range(num_layers):
        query, key, value = keras.ops.split(
            keras.layers.Dense(3 * hidden_dim)(x), 3, axis=-1)
        x = x + keras.layers.Dense(hidden_dim)(query + key + value)
        x = x + keras.layers.Dense(hidden_dim)(
            keras.layers.Dense(intermediate_dim)(x))
    return keras.Model(token_ids, embedding(x, reverse=True))


@contextlib.contextmanager
def keras_dropout():
    """Models built inside drop out with `keras.random.dropout`, the random
    numbers of `keras.layers.Dropout`, instead of `FastDropout`'s."""
    fast_call = FastDropout.call

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        return keras.random.dropout(inputs, self.rate,
                                    seed=self.seed_generator)

    FastDropout.call = call
    try:
        yield
    finally:
        FastDropout.call = fast_call


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30,
                        help="timed training steps per model")
    parser.add_argument("--matmul-size", type=int, default=4096)
    parser.add_argument("--presets", nargs="+",
                        default=["gpt-tiny", "gpt-shakespeare-char"])
    args = parser.parse_args()

    peak = matmul_flops_per_second(args.matmul_size)
    print(f"float32 matmul {args.matmul_size}x{args.matmul_size}: "
          f"{peak / 1e9:.1f} GFLOP/s")
    print(f"{'model':42s} {'batch':>5s} {'tokens/s':>10s} {'GFLOP/s':>8s} "
          f"{'of matmul':>9s}")
    rates = {}
    for preset in args.presets:
        spec = get_preset(preset)
        arguments, training = spec["arguments"], spec["training"]
        # name: (model, the context its training step is traced in)
        candidates = {f"tfzoo {preset}": (
            build_model(preset, VOCABULARY_SIZE), contextlib.nullcontext())}
        matmuls_name = f"{preset} matmuls only"
        candidates[matmuls_name] = (matmul_only_stack(
            arguments["num_layers"], arguments["hidden_dim"],
            4 * arguments["hidden_dim"]), contextlib.nullcontext())
        if preset == "gpt-tiny":
            name = f"keras-hub TransformerDecoder x{arguments['num_layers']}"
            candidates[name] = (keras_hub_decoder_stack(
                arguments["num_layers"], arguments["num_heads"],
                arguments["hidden_dim"], arguments["max_sequence_length"],
                4 * arguments["hidden_dim"], arguments["dropout"]),
                contextlib.nullcontext())
        keras_dropout_name = f"tfzoo {preset}, keras dropout"
        if arguments.get("dropout"):
            candidates[keras_dropout_name] = (
                build_model(preset, VOCABULARY_SIZE), keras_dropout())
        for name, (model, context) in candidates.items():
            with context:
                tokens_per_second = training_tokens_per_second(
                    model, training["batch_size"],
                    arguments["max_sequence_length"], args.steps, preset)
            flops = tokens_per_second * flops_per_token(
                0 if name == matmuls_name else arguments["num_layers"],
                arguments["hidden_dim"], arguments["max_sequence_length"],
                non_embedding_parameters(model))
            rates[name] = tokens_per_second
            print(f"{name:42s} {training['batch_size']:5d} "
                  f"{tokens_per_second:10,.0f} {flops / 1e9:8.1f} "
                  f"{flops / peak:9.1%}")
        if arguments.get("dropout"):
            ratio = rates[f"tfzoo {preset}"] / rates[keras_dropout_name]
            print(f"{preset} FastDropout / keras dropout tokens/s: "
                  f"{ratio:.2f}")
    if "tfzoo gpt-tiny" in rates:
        reference = [v for k, v in rates.items() if k.startswith("keras-hub")]
        print(f"gpt-tiny tfzoo / keras-hub tokens/s: "
              f"{rates['tfzoo gpt-tiny'] / reference[0]:.2f}")


if __name__ == "__main__":
    main()
