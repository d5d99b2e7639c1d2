"""Files as tfzoo wrote them before it gave one name to each idea.

Until then `run.json` of a language model had no `task` and called the
maximum sequence length `context_length` (classifiers and MLM runs:
`max_length`, with `warmup_fraction`), and `.keras` files named the
attention layer `CausalSelfAttention` and the models' length
`context_length`. These helpers turn files written today into that format,
so the tests can check that old runs still load and resume, with no binary
fixture in git.
"""

import json
import os
import zipfile


def old_keras_file(path):
    """Rewrites the `.keras` file at `path` as tfzoo saved it before."""
    with zipfile.ZipFile(path) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    config = contents["config.json"].decode("utf-8")
    assert "tfzoo>SelfAttention" in config or "max_sequence_length" in config
    config = (config
              .replace('"tfzoo>SelfAttention"', '"tfzoo>CausalSelfAttention"')
              .replace('"class_name": "SelfAttention"',
                       '"class_name": "CausalSelfAttention"')
              .replace('"max_sequence_length"', '"context_length"'))
    contents["config.json"] = config.encode("utf-8")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)


def old_run_json(run_dir):
    """Rewrites `run_dir/run.json` as tfzoo wrote it before."""
    path = os.path.join(run_dir, "run.json")
    with open(path) as f:
        settings = json.load(f)
    task = settings.pop("task")
    length = settings.pop("max_sequence_length")
    if task == "language_model":
        settings["context_length"] = length
    else:
        settings["max_length"] = length
        if settings.pop("warmup_steps") is None:
            settings["warmup_fraction"] = 0.1
        settings["task"] = task
    with open(path, "w") as f:
        json.dump(settings, f, indent=1)
