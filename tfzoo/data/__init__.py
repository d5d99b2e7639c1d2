"""Text sources and `tf.data` window pipelines."""

from tfzoo.data.sources import (data_dir, load_text, load_text_splits,
                                 split_text)
from tfzoo.data.windows import (
    count_windows,
    evaluation_windows,
    training_windows,
)

__all__ = [
    "count_windows",
    "data_dir",
    "evaluation_windows",
    "load_text",
    "load_text_splits",
    "split_text",
    "training_windows",
]
