"""Everything a SavedModel holds or TF Serving reads.

- The string modules, tokenizer and model in one graph: `TextGenerator`
  (`text_generator`: prompt -> text, and score), `Translator`
  (`translator`) and `ClassifierServer` (`classifier_server`); their
  inputs checked by `signatures.serving_function`.
- `export`: a run as `saved_models/NAME/VERSION/`, written whole or not at
  all.
- `warmup` (the requests TF Serving replays on load) and `model_config`
  (`models.config`, `batching.config`).

`TextGenerator`, `Translator` and `ClassifierServer` are here too,
imported when first used: `versions` (model names, version folders) loads
nothing heavy.
"""

from tfzoo.lazy import lazy_attributes

# Each name, and the module that defines it.
_LAZY = {
    "ClassifierServer": "tfzoo.serving.classifier_server",
    "TextGenerator": "tfzoo.serving.text_generator",
    "Translator": "tfzoo.serving.translator",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
