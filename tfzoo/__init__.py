"""tfzoo: language models for Keras 3 and TensorFlow.

Layers live in `tfzoo.layers`, models in `tfzoo.models`, tokenizers in
`tfzoo.text`, input pipelines in `tfzoo.data` and the training loop in
`tfzoo.training`; `tfzoo.cli` is the `tfzoo` command.
"""

__version__ = "0.1.0"
