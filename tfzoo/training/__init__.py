"""Training and evaluation of language models with `model.fit`."""

from tfzoo.training.evaluate import evaluate_run, load_run
from tfzoo.training.optimizer import make_optimizer, warmup_cosine_schedule
from tfzoo.training.train import compile_model, make_settings, train

__all__ = [
    "compile_model",
    "evaluate_run",
    "load_run",
    "make_optimizer",
    "make_settings",
    "train",
    "warmup_cosine_schedule",
]
