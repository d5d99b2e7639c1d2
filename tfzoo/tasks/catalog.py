"""Every task tfzoo trains, and the calls that pick a run's task.

A task is a module with the same named parts (see `tfzoo.tasks`); this
table is the one place where a model's name, or a run's settings, choose
it. Adding a task means one new module and one row here.
"""

from tfzoo.models.lora import has_lora, merge
from tfzoo.runs.loader import load_run
from tfzoo.runs.run_folder import read_settings
from tfzoo.serving import export as export_module
from tfzoo.serving.versions import check_model_name
from tfzoo.tasks import (classification, language_model, masked_lm, ngram,
                         translation)
from tfzoo.training import lifecycle

TASKS = (language_model, ngram, classification, masked_lm, translation)


def task_for(model):
    """The task module that trains `model` (a name in
    `tfzoo.choices.MODELS`).

    Raises:
        ValueError: an unknown model.
    """
    for task in TASKS:
        if model in task.MODELS:
            return task
    models = [model for task in TASKS for model in task.MODELS]
    raise ValueError(f"unknown model {model!r}; choose one of: "
                     f"{', '.join(models)}")


def task_of(settings):
    """The task module of a run's settings (`run.json`)."""
    return task_for(settings.get("model", "gpt"))


def read_run_settings(run_dir):
    """The settings in `run_dir`'s `run.json`, in today's form (the
    generic renames of `run_folder.read_settings`, then the task's own
    `upgrade_settings`).

    Raises:
        ValueError: `run_dir` is not a run folder.
    """
    settings = read_settings(run_dir)
    return task_of(settings).upgrade_settings(settings)


def make_settings(model="gpt", preset=None, **options):
    """The settings of a run of `model`: its task's `make_settings`.

    Example:
    >>> settings = make_settings("gpt", "gpt-tiny", data="input.txt",
    ...                          steps=200)
    """
    task = task_for(model)
    if task is ngram:
        if preset is not None:
            raise ValueError("--model ngram is counted, not trained: it "
                             "takes no --preset")
        return task.make_settings(model, **options)
    return task.make_settings(model, preset, **options)


def train(settings, run_dir, **options):
    """Trains (or resumes, or finds finished) the run `settings` define:
    `lifecycle.train` with the run's task; `options` are its keyword
    arguments (`data_dir`, `overwrite`, `sample_every`, `callbacks`,
    `verbose`, `strategy`).

    Returns:
        The `tfzoo.runs.Run`.

    Example:
    >>> run = train(make_settings("gpt", data="input.txt", steps=200),
    ...             "runs/tiny")
    >>> run.sample
    """
    return lifecycle.train(task_of(settings), settings, run_dir, **options)


def load(run_dir, compile=False):
    """The finished run in `run_dir` (`tfzoo.runs.load_run`), its
    settings in today's form."""
    return load_run(run_dir, compile=compile,
                    settings=read_run_settings(run_dir))


def evaluate(run, **options):
    """The run's task's `evaluate` (see each task)."""
    return task_of(run.settings).evaluate(run, **options)


def export(run, name, base_dir=export_module.DEFAULT_BASE_DIR,
           jit_compile=True, end_token_id=None, labels=None,
           max_sequence_length=None, **options):
    """Writes a loaded run as `base_dir/name/<next version>/`: the string
    module its task serves (`server`, with `jit_compile`, and
    `end_token_id` and `max_sequence_length` for language models or
    `labels` for classifiers), a LoRA run's adapters merged into its
    kernels first (`tfzoo.models.lora.merge`),
    through `tfzoo.serving.export.export` (`options`: `warmup`,
    `version_policy`, `serving_root`, `quantize`).

    Raises:
        ValueError: a run its task does not export (n-gram, MLM), an
            option of another task; see `tfzoo.serving.export.export`.

    Example:
    >>> export(load("runs/tiny"), "shakespeare")
    'saved_models/shakespeare/1'
    """
    task = task_of(run.settings)
    if has_lora(run.model):  # served merged: the base's cost, then quantized
        run = run._replace(model=merge(run.model))
    return export_module.export(
        run, name,
        lambda run: task.server(run, jit_compile=jit_compile,
                                end_token_id=end_token_id, labels=labels,
                                max_sequence_length=max_sequence_length),
        base_dir, **options)


def export_run(run_dir, name, *arguments, **options):
    """`export(load(run_dir), name, ...)`, the name checked before the
    model loads."""
    check_model_name(name)
    return export(load(run_dir), name, *arguments, **options)
