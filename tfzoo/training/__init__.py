"""Training with `model.fit`: the machinery every task shares.

- `lifecycle`: the one training skeleton, `train(task, settings,
  run_dir)`, with its schedule, resume rule, compile and fit; each task's
  module (`tfzoo.tasks`) gives its parts.
- `callbacks`: samples in TensorBoard, the stop at a diverged loss, and
  the run folder's history, checkpoints and backup.
- `distribute`: strategies and precision; `metrics` and `masked_losses`:
  what the runs' progress bars show and translation trains on; `plots`:
  PNGs of a run.

To train a run of any task, call `tfzoo.tasks.train`.
"""

from tfzoo.optimizers import make_optimizer, warmup_cosine_schedule

__all__ = ["make_optimizer", "warmup_cosine_schedule"]
