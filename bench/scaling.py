"""What the distribution layer costs: training tokens/s of gpt-tiny on Tiny
Shakespeare through `tfzoo.tasks.train` (the path of
`tfzoo train`) on

    1 device, no XLA the default strategy without XLA (what the strategies
                     below get: Keras turns XLA off under tf.distribute)
    1 device         the default strategy (XLA on, as `tfzoo train` runs it)
    mirrored x1      MirroredStrategy over the whole CPU
    mirrored x2      MirroredStrategy over 2 logical CPU devices
    multiworker x1   MultiWorkerMirroredStrategy, a 1-worker cluster
    multiworker x2   2 worker processes on localhost

The global batch is the same everywhere (--batch-size windows of 64
tokens), so every row does the same work per step; on one machine more
replicas only share the same cores, so the figures show the overhead, not
a speed-up. Each row runs in its own process (devices and clusters must be
set up before TensorFlow starts).

    python bench/scaling.py [--steps 60] [--batch-size 32]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
DATA_DIR = os.environ.get("TFZOO_DATA_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
WARMUP_STEPS = 10

from tfzoo.training.distribute import localhost_tf_configs  # noqa: E402

ROWS = [
    ("1 device, no XLA", "default", 1, 1, False),
    ("1 device", "default", 1, 1, True),
    ("mirrored x1", "mirrored", 1, 1, False),
    ("mirrored x2", "mirrored", 2, 1, False),
    ("multiworker x1", "multiworker", 1, 1, False),
    ("multiworker x2", "multiworker", 1, 2, False),
]


def child(args):
    """One training run; prints `TOKENS_PER_SECOND <value>` (chief only)."""
    from tfzoo.training.distribute import make_strategy, split_cpu

    if args.cpu_devices > 1:
        split_cpu(args.cpu_devices)
    strategy = make_strategy(args.strategy)

    import keras

    from tfzoo.tasks import make_settings, train
    from tfzoo.training.distribute import is_chief

    class StepTimer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == WARMUP_STEPS - 1:
                self.start = time.perf_counter()
            self.end = time.perf_counter()

    timer = StepTimer()
    settings = make_settings(
        "gpt", "gpt-tiny", data="tiny_shakespeare/input.txt",
        steps=args.steps, steps_per_epoch=args.steps,
        global_batch_size=args.batch_size, jit_compile=args.xla)
    with tempfile.TemporaryDirectory() as run_dir:
        train(settings, os.path.join(run_dir, "run"), data_dir=DATA_DIR,
              sample_every=0, callbacks=[timer], verbose=0,
              strategy=strategy)
    tokens = (args.steps - WARMUP_STEPS) * args.batch_size * 64
    if is_chief(strategy):
        print(f"TOKENS_PER_SECOND {tokens / (timer.end - timer.start):.1f}")


def measure(strategy, cpu_devices, workers, xla, args):
    """Tokens/s of one row (from the chief's process)."""
    command = [sys.executable, os.path.abspath(__file__), "--child",
               "--strategy", strategy, "--cpu-devices", str(cpu_devices),
               "--steps", str(args.steps), "--batch-size",
               str(args.batch_size)] + (["--xla"] if xla else [])
    environments = [dict(os.environ)]
    if strategy == "multiworker":
        environments = [{**os.environ, "TF_CONFIG": config}
                        for config in localhost_tf_configs(workers)]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for env in environments]
    outputs = [p.communicate() for p in processes]
    for process, (out, err) in zip(processes, outputs):
        if process.returncode:
            sys.exit(f"{strategy} x{max(cpu_devices, workers)} failed:\n"
                     f"{err[-2000:]}")
    for out, _ in outputs:
        for line in out.splitlines():
            if line.startswith("TOKENS_PER_SECOND"):
                return float(line.split()[1])
    sys.exit("no figure printed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60,
                        help=f"training steps per row (the first "
                        f"{WARMUP_STEPS} are not timed)")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="global batch, in windows of 64 tokens")
    parser.add_argument("--child", action="store_true",
                        help=argparse.SUPPRESS)
    parser.add_argument("--strategy", help=argparse.SUPPRESS)
    parser.add_argument("--cpu-devices", type=int, default=1,
                        help=argparse.SUPPRESS)
    parser.add_argument("--xla", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps <= WARMUP_STEPS:
        parser.error(f"--steps must be more than {WARMUP_STEPS}")
    if args.child:
        return child(args)

    print(f"gpt-tiny, global batch {args.batch_size} x 64 tokens, "
          f"{args.steps} steps per row ({os.cpu_count()} CPU cores)")
    print(f"{'setup':<18} {'tokens/s':>10} {'vs 1 device, no XLA':>20}")
    baseline = None
    for name, strategy, cpu_devices, workers, xla in ROWS:
        rate = measure(strategy, cpu_devices, workers, xla, args)
        if name == "1 device, no XLA":
            baseline = rate
        ratio = f"{rate / baseline:.2f}x" if baseline else ""
        print(f"{name:<18} {rate:>10,.0f} {ratio:>20}", flush=True)


if __name__ == "__main__":
    main()
