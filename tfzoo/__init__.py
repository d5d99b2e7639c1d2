"""tfzoo: language models for Keras 3 and TensorFlow.

Layers live in `tfzoo.layers`, models in `tfzoo.models`, tokenizers in
`tfzoo.text`, input pipelines in `tfzoo.data`, the tasks (language model,
n-gram, classifier, masked LM, translation) in `tfzoo.tasks`, the training
skeleton they share in `tfzoo.training`, run folders in `tfzoo.runs`,
decoding loops in `tfzoo.decoding`, generation, translation and scoring
from Python in `tfzoo.generation`, and everything a SavedModel holds or TF
Serving reads in `tfzoo.serving`; `tfzoo.cli` is the `tfzoo` command.

The calls most people need are here too, imported when first used (so
that `import tfzoo` and `tfzoo --help` stay quick): `tfzoo.make_settings`,
`tfzoo.train`, `tfzoo.load_run`, `tfzoo.evaluate`, `tfzoo.export`,
`tfzoo.generate`, `tfzoo.score`, `tfzoo.translate`, `tfzoo.quantize`,
and for pretrained LLMs `tfzoo.load_pretrained` and `tfzoo.chat`.
"""

__version__ = "0.1.0"

from tfzoo.lazy import lazy_attributes

# Each name, and the module that defines it.
_LAZY = {
    "make_settings": "tfzoo.tasks.catalog",
    "train": "tfzoo.tasks.catalog",
    "evaluate": "tfzoo.tasks.catalog",
    "export": "tfzoo.tasks.catalog",
    "load_run": "tfzoo.runs.loader",
    "generate": "tfzoo.generation.generate",
    "score": "tfzoo.generation.generate",
    "translate": "tfzoo.generation.translate",
    "chat": "tfzoo.generation.chat",
    "load_pretrained": "tfzoo.runs.pretrained",
    "quantize": "tfzoo.quantization",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
