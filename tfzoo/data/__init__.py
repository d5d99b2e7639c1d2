"""Text sources and `tf.data` pipelines.

- `sources`: where text comes from (a file, a folder, TFDS) and how it is
  split; `table`: TSV/CSV files; `labelled` and `parallel`: labelled
  examples and sentence pairs; `windows`: language-model windows.

`load_text`, `load_text_splits`, `split_text`, `data_dir`,
`count_windows`, `training_windows` and `evaluation_windows` are here too,
imported when first used, so that the command line can check paths
(`sources`, `table`) without loading TensorFlow.
"""

from tfzoo.lazy import lazy_attributes

# Each name, and the module that defines it.
_LAZY = {
    "data_dir": "tfzoo.data.sources",
    "load_text": "tfzoo.data.sources",
    "load_text_splits": "tfzoo.data.sources",
    "split_text": "tfzoo.data.sources",
    "count_windows": "tfzoo.data.windows",
    "evaluation_windows": "tfzoo.data.windows",
    "training_windows": "tfzoo.data.windows",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
