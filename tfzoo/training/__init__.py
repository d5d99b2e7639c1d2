"""Training and evaluation with `model.fit`.

`lifecycle` owns a run's life (open or resume the run folder, compile,
fit, save); the trainers `language_model`, `classifier`, `masked_lm`,
`translation` and `ngram` (which counts) are siblings built on it, and
`loader.load_run` loads any finished run.
`run_folder` keeps the folder's rules, `distribute` the strategies,
`callbacks` and `plots` what a run shows.
"""

from tfzoo.optimizers import make_optimizer, warmup_cosine_schedule
from tfzoo.training.language_model import (compile_model, evaluate,
                                           make_settings, train)
from tfzoo.training.loader import Run, load_run

__all__ = [
    "Run",
    "compile_model",
    "evaluate",
    "load_run",
    "make_optimizer",
    "make_settings",
    "train",
    "warmup_cosine_schedule",
]
