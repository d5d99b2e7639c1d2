"""`ModelCache`: what is built once per model (traced functions, string
modules), rebuilt when the model changes in place.

`tfzoo.generate`, `tfzoo.score`, `tfzoo.translate` and the classifier's
`predict_probabilities` trace a graph per model and keep it, so that a
second call costs no tracing. A traced graph reads the model's variables as
they are at each call (new weights from `set_weights` or `load_weights`
are seen), but it keeps the variables and the code paths it was traced
with: after `quantize` (int8 kernels replace the float ones) or
`enable_lora` (new adapter variables and a new call) it would still
compute the old model. Keras' own `Model.quantize` drops its compiled
functions for this reason. So each entry is kept with the model's
variables as it was built for (`variables_layout`), and rebuilt when they
differ.
"""

import weakref


def variables_layout(model):
    """The model's variables as a traced graph depends on them: each one's
    path, dtype and shape, in order. It changes when `quantize` or
    `enable_lora` changes layers in place; it does not change when only the
    values do."""
    return tuple((variable.path, str(variable.dtype), tuple(variable.shape))
                 for variable in model.variables)


class ModelCache:
    """Values built per model and key, rebuilt when the model's variables
    change (see the module docstring). Keyed by the model weakly: a
    model's entries go with it.

    Example:
    >>> cache = ModelCache()
    >>> generator = cache.get(model, ("greedy",), lambda: Generator(model))
    """

    def __init__(self):
        self._entries = weakref.WeakKeyDictionary()

    def get(self, model, key, build):
        """The value for `(model, key)`: `build()`'s, built again if the
        model's variables changed since."""
        layout = variables_layout(model)
        entries = self._entries.setdefault(model, {})
        entry = entries.get(key)
        if entry is None or entry[0] != layout:
            entry = (layout, build())
            entries[key] = entry
        return entry[1]
