"""The tasks tfzoo trains, one module each, with the same named parts.

- `language_model`: GPT and LSTM on plain text.
- `ngram`: the n-gram baseline, counted.
- `classification`: BERT, Transformer and LSTM classifiers.
- `masked_lm`: BERT pretraining.
- `translation`: Transformer and LSTM encoder-decoders.

Each module has `TASK` (the name `run.json` records), `MODELS`, `COUNTED`
and these parts, which `tfzoo.training.lifecycle.train` runs in order:
`make_settings`, `upgrade_settings`, `read_data`, `load_preprocessor`,
`make_preprocessor`, `encode`, `batches_per_pass` (`count` for the
n-gram), `datasets`, `build`, `compile`, `save`, `describe`,
`batch_unit` and `callbacks`; then `evaluate` (`tfzoo eval`), `server`
(the string module `tfzoo export` saves) and `plots`.

`catalog` holds the table of tasks and the calls that pick a run's task:
`make_settings`, `train`, `load`, `evaluate`, `export`.
"""

from tfzoo.tasks.catalog import (evaluate, export, export_run, load,
                                 make_settings, task_for, task_of, train)

__all__ = ["evaluate", "export", "export_run", "load", "make_settings",
           "task_for", "task_of", "train"]
