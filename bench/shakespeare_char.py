"""Character-level Tiny Shakespeare in a fixed wall-clock budget.

Trains a GPT with tfzoo's layers and `model.fit` for `--minutes` (default
10; compilation included) and prints the validation loss in nats per
character on nanoGPT's split: the first 90% of input.txt trains, the last
10% validates, and every validation character is predicted once from up to
`--context` characters before it. The learning rate follows the clock:
linear warmup, then cosine decay that reaches its floor when time is up.

The default recipe is the best found in 10 minutes on 2 CPU cores: a
0.8M-parameter GPT (4 layers, 4 heads, width 128) on 128-character windows,
batch 32, dropout 0.1, rotary position embeddings, and Muon (AdamW for the
embeddings, biases and LayerNorms) at a peak learning rate of 1e-2.

    python bench/shakespeare_char.py [--minutes 10] [--data-dir ../shared/data]

`--model lstm` trains the LSTM baseline instead (`--layers` LSTMs of
`--width` units; the textbook's lstm-char is `--layers 1 --width 128`,
trained with `--optimizer adamw --learning-rate 5e-3 --dropout 0`).

nanoGPT's own figures on this kind of machine (2 CPU cores): its CPU "baby
GPT" recipe reaches 1.874 in 2,000 iterations (111 s) and 1.536 in 10,500
iterations (9 minutes).
"""

import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from tfzoo.data import (  # noqa: E402
    data_dir,
    evaluation_windows,
    split_text,
    training_windows,
)
from tfzoo.data.sources import read_text_file  # noqa: E402
from tfzoo.models import LSTMLM, TransformerLM  # noqa: E402
from tfzoo.text import CharTokenizer, encode  # noqa: E402
from tfzoo.choices import OPTIMIZERS  # noqa: E402
from tfzoo.optimizers import make_optimizer  # noqa: E402
from tfzoo.training.distribute import (  # noqa: E402
    check_precision,
    precision_policy,
)

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class WallClockSchedule(keras.callbacks.Callback):
    """Warmup then cosine decay over a time budget; stops when it is spent."""

    def __init__(self, peak, seconds, warmup_steps, min_ratio):
        super().__init__()
        self.peak, self.seconds = peak, seconds
        self.warmup_steps, self.min_ratio = warmup_steps, min_ratio
        self.start = time.perf_counter()
        self.steps = 0

    def on_train_batch_begin(self, batch, logs=None):
        progress = min((time.perf_counter() - self.start) / self.seconds, 1.0)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        rate = self.peak * (self.min_ratio + (1 - self.min_ratio) * cosine)
        rate *= min(1.0, (self.steps + 1) / self.warmup_steps)
        self.model.optimizer.learning_rate.assign(rate)

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if time.perf_counter() - self.start >= self.seconds:
            self.model.stop_training = True


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", choices=["gpt", "lstm"], default="gpt")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--data-dir", help="default: $TFZOO_DATA_DIR, "
                        "else ../shared/data beside the repository")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--min-lr-ratio", type=float, default=0.05)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--positional-embedding", default="rotary",
                        choices=["learned", "sinusoidal", "rotary"])
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="muon")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--precision", default="float32",
                        choices=["float32", "mixed_bfloat16"])
    parser.add_argument("--no-xla", action="store_true")
    args = parser.parse_args()

    directory = data_dir(args.data_dir) or os.path.join(
        REPOSITORY, "..", "shared", "data")
    text = read_text_file(os.path.join(directory, "tiny_shakespeare",
                                       "input.txt"))
    train_text, validation_text = split_text(text, 0.1)
    tokenizer = CharTokenizer.from_text(train_text)
    train_ids = encode(tokenizer, train_text)
    validation_ids = encode(tokenizer, validation_text)

    keras.utils.set_random_seed(args.seed)
    check_precision(args.precision)
    with precision_policy(args.precision):
        if args.model == "gpt":
            model = TransformerLM(
                tokenizer.vocabulary_size(), args.context, args.layers,
                args.heads, args.width, dropout=args.dropout,
                positional_embedding=args.positional_embedding)
        else:
            model = LSTMLM(
                tokenizer.vocabulary_size(), args.context,
                embedding_dim=args.width, hidden_dim=args.width,
                num_layers=args.layers, dropout=args.dropout)
    model.compile(
        optimizer=make_optimizer(args.learning_rate,
                                 weight_decay=args.weight_decay,
                                 kind=args.optimizer),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=not args.no_xla)
    shape = (f"GPT {args.layers} layers x {args.heads} heads x width "
             f"{args.width}" if args.model == "gpt" else
             f"LSTM {args.layers} layer(s) x {args.width} units")
    print(f"{shape}, context {args.context}, batch {args.batch}: "
          f"{model.count_params():,} parameters; {args.minutes:g} minutes; "
          f"{args.precision}, XLA {'off' if args.no_xla else 'on'}")

    steps_per_epoch = 200
    schedule = WallClockSchedule(args.learning_rate, args.minutes * 60,
                                 args.warmup_steps, args.min_lr_ratio)
    history = model.fit(
        training_windows(train_ids, args.context, args.batch,
                         steps_per_epoch, seed=args.seed),
        steps_per_epoch=steps_per_epoch, epochs=10**6, shuffle=False,
        callbacks=[schedule], verbose=2)
    seconds = time.perf_counter() - schedule.start
    tokens = schedule.steps * args.batch * args.context

    validation_loss = model.evaluate(
        evaluation_windows(validation_ids, args.context, 64), verbose=0)
    print(f"steps {schedule.steps}, {tokens / 1e6:.1f}M tokens in "
          f"{seconds:.0f} s ({tokens / seconds:,.0f} tokens/s)")
    print(f"train loss (last epoch) {history.history['loss'][-1]:.4f}")
    print(f"validation loss {validation_loss:.4f} nats/character "
          f"({validation_loss / math.log(2):.4f} bits/character)")


if __name__ == "__main__":
    main()
