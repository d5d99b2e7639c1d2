"""Translation on 2 CPU cores: the Transformer against the LSTM seq2seq.

    python bench/translation.py [--budget-minutes 20] [--data-dir ../shared/data]

Trains `seq2seq` (preset `seq2seq-small`) and `lstm-seq2seq` (preset
`lstm-seq2seq`) for the same wall-clock budget each on
`translation_en_de/train.tsv` (29,750 English-German pairs of software
messages), and prints for each on `dev.tsv` (1,639 pairs):

- BLEU and chrF (sacrebleu, with its signature) of greedy decoding and of
  beam search with 4 beams, and the share of sentences whose placeholders
  (`%s`, `--option`, ...) all survive;
- training tokens per second (source and target tokens of the batches,
  after the first 50 steps, which compile);
- the copy baseline (translation = source).

Then decoding speed, in sentences per second on the first
`--decode-sentences` dev sentences, batched: cached against uncached
greedy decoding, and beam 4 against greedy.

Each run's length in steps is set from its own speed: a short calibration
run measures milliseconds per step (with and without XLA for the
Transformer; the faster is used), and the run gets
`budget / (1.15 x step time)` steps, so that its learning-rate schedule
ends about when the budget does. A guard stops it should it run over.

Targets on 2 CPU cores: the Transformer beats the LSTM by at least 3 BLEU
at equal budget; beam 4 beats greedy; cached decoding at least 5 times as
fast as uncached.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from tfzoo.data.parallel import encode_pairs  # noqa: E402
from tfzoo.generation.translate import translate  # noqa: E402
from tfzoo.serving.translator import special_token_ids  # noqa: E402
from tfzoo.runs.loader import load_run  # noqa: E402
from tfzoo.tasks import train as train_run, translation  # noqa: E402
from step_timer import StepTimer  # noqa: E402  (bench/, this folder)

TRAIN, DEV = "translation_en_de/train.tsv", "translation_en_de/dev.tsv"
MODELS = {"transformer": ("seq2seq", "seq2seq-small"),
          "lstm": ("lstm-seq2seq", "lstm-seq2seq")}
CALIBRATION_STEPS = 40


class TimeBudget(keras.callbacks.Callback):
    """Stops training once `seconds` have passed since it began."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True


def settings_for(name, data_dir, **overrides):
    model, preset = MODELS[name]
    return translation.make_settings(
        model, preset, data=TRAIN, validation_data=DEV, **overrides)


def calibrate(name, args):
    """`(seconds per step, jit_compile)` of the model, the faster way."""
    best = None
    for jit_compile in ((True, False) if name == "transformer" else
                        (False,)):
        timer = StepTimer(skip=15)
        settings = settings_for(name, args.data_dir, steps=CALIBRATION_STEPS,
                                steps_per_epoch=CALIBRATION_STEPS,
                                jit_compile=jit_compile)
        train_run(
            settings, os.path.join(args.out, f"calibrate-{name}-{jit_compile}"),
            data_dir=args.data_dir, sample_every=0, callbacks=[timer],
            verbose=0)
        seconds = timer.seconds_per_step()
        print(f"{name}: {1000 * seconds:.0f} ms per step with XLA "
              f"{'on' if jit_compile else 'off'} (steps {timer.skip + 1} to "
              f"{CALIBRATION_STEPS})", flush=True)
        if best is None or seconds < best[0]:
            best = (seconds, jit_compile)
    return best


def train(name, args):
    run_dir = os.path.join(args.out, name)
    if os.path.isfile(os.path.join(run_dir, "model.keras")):
        # A finished run in --out (say, of an earlier call that stopped
        # after training it) is evaluated as it is, not trained again.
        run = load_run(run_dir)
        print(f"{name}: reusing the finished run in {run_dir}", flush=True)
        return run, {"steps": None, "minutes": None,
                     "tokens_per_second": None,
                     "parameters": run.model.count_params(),
                     "xla": run.settings["jit_compile"]}
    seconds_per_step, jit_compile = calibrate(name, args)
    budget = 60 * args.budget_minutes
    # The calibration's short run meets fewer long batches (and compiles
    # fewer shapes) than a whole run: plan on 15% more time per step.
    steps = max(1, int(budget / (1.15 * seconds_per_step)))
    steps_per_epoch = max(1, min(500, steps // 4))
    settings = settings_for(name, args.data_dir, steps=steps,
                            steps_per_epoch=steps_per_epoch,
                            jit_compile=jit_compile)
    timer = StepTimer(skip=0)
    start = time.perf_counter()
    train_run(
        settings, run_dir, data_dir=args.data_dir, sample_every=0,
        callbacks=[timer, TimeBudget(budget)], verbose=2)
    seconds = time.perf_counter() - start
    run = load_run(run_dir)
    pairs = translation.read_split(settings, "train", args.data_dir)
    bos, eos, _ = special_token_ids(run.tokenizer)
    encoded = encode_pairs(run.tokenizer, pairs,
                           settings["max_sequence_length"], bos, eos)
    source_tokens, target_tokens = (sum(map(len, encoded.encoder_token_ids)),
                                    sum(map(len, encoded.targets)))
    tokens_per_pair = (source_tokens + target_tokens) / len(encoded)
    # Tokens per second of the steps after the first 50 (which trace and
    # compile the model for each bucket shape).
    steady = timer.times[50:] or timer.times
    tokens = len(steady) * settings["batch_size"] * tokens_per_pair
    return run, {"steps": len(timer.times), "minutes": seconds / 60,
                 "tokens_per_second": tokens / sum(steady),
                 "parameters": run.model.count_params(),
                 "xla": jit_compile}


def decoding_speed(run, sources):
    """Sentences per second of each way of decoding (after a warm-up call
    on the same sentences, which traces and compiles)."""
    speeds = {}
    for label, options in (("greedy, cached", dict(use_cache=True)),
                           ("greedy, uncached", dict(use_cache=False)),
                           ("beam 4, cached", dict(beam_width=4))):
        translate(run.model, run.tokenizer, sources, **options)
        start = time.perf_counter()
        translate(run.model, run.tokenizer, sources, **options)
        speeds[label] = len(sources) / (time.perf_counter() - start)
    return speeds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get(
        "TFZOO_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                       "shared", "data")))
    parser.add_argument("--budget-minutes", type=float, default=20.0,
                        help="training wall-clock budget of each model")
    parser.add_argument("--models", nargs="+", choices=list(MODELS),
                        default=list(MODELS))
    parser.add_argument("--eval-pairs", type=int,
                        help="score the first N dev pairs only (default: "
                        "all)")
    parser.add_argument("--decode-sentences", type=int, default=64,
                        help="dev sentences timed for decoding speed")
    parser.add_argument("--out", default=tempfile.mkdtemp(prefix="translation-"),
                        help="folder for the runs (default: a new temporary "
                        "folder)")
    args = parser.parse_args()

    dev = translation.read_parallel(DEV, args.data_dir)
    copy = translation.copy_baseline(dev)
    print(f"copy baseline: BLEU {copy['bleu']:.2f}, chrF {copy['chrf']:.2f}",
          flush=True)
    rows = {}
    for name in args.models:
        run, row = train(name, args)
        metrics = translation.evaluate(run, data_dir=args.data_dir,
                                       beam_width=4, limit=args.eval_pairs)
        row.update(metrics=metrics,
                   speed=decoding_speed(run, dev.sources[
                       :args.decode_sentences]))
        rows[name] = row
        print(f"{name}: greedy BLEU {metrics['greedy']['bleu']:.2f}, beam 4 "
              f"BLEU {metrics['beam']['bleu']:.2f}", flush=True)

    print(f"\nDev set: {args.eval_pairs or len(dev.sources):,} pairs; budget "
          f"{args.budget_minutes:g} minutes of training per model.")
    print(f"{'model':<13}{'params':>11}{'steps':>7}{'min':>6}{'tok/s':>8}"
          f"{'BLEU gr':>9}{'BLEU b4':>9}{'chrF gr':>9}{'chrF b4':>9}"
          f"{'ph. kept b4':>12}")
    for name, row in rows.items():
        greedy, beam = row["metrics"]["greedy"], row["metrics"]["beam"]
        if row["steps"] is None:
            training = f"{'reused':>21}"
        else:
            training = (f"{row['steps']:>7}{row['minutes']:>6.1f}"
                        f"{row['tokens_per_second']:>8.0f}")
        print(f"{name:<13}{row['parameters']:>11,}{training}"
              f"{greedy['bleu']:>9.2f}{beam['bleu']:>9.2f}"
              f"{greedy['chrf']:>9.2f}{beam['chrf']:>9.2f}"
              f"{beam['placeholders_kept']:>12.1%}")
    print(f"{'copy source':<45}{copy['bleu']:>9.2f}{'':>9}"
          f"{copy['chrf']:>9.2f}{'':>9}{copy['placeholders_kept']:>12.1%}")
    print(f"\nDecoding speed, sentences/s ({args.decode_sentences} dev "
          "sentences, one batch):")
    for name, row in rows.items():
        speed = row["speed"]
        cached = speed["greedy, cached"]
        print(f"{name}: " + ", ".join(f"{k} {v:.1f}" for k, v in
                                       speed.items())
              + f"; cached/uncached {cached / speed['greedy, uncached']:.1f}x"
              f", beam 4/greedy {speed['beam 4, cached'] / cached:.2f}x")
    any_row = next(iter(rows.values()))["metrics"]["greedy"]
    print(f"\nsacrebleu: BLEU {any_row['bleu_signature']}; chrF "
          f"{any_row['chrf_signature']}")


if __name__ == "__main__":
    main()
