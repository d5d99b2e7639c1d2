"""`BaseModel`: the config of every tfzoo model, written once.

A tfzoo model is a functional `keras.Model` whose constructor takes plain
arguments (sizes, rates, names) and keeps each one as an attribute of the
same name (the `# === Config ===` block at the end of each `__init__`).
`get_config` therefore needs no list of its own: it reads the
constructor's signature. This is what keras-hub's `Backbone` does for its
models, written out for tfzoo's.
"""

import inspect

import keras

# Arguments renamed since a `.keras` file may have been saved: old name ->
# today's. `from_config` reads either.
RENAMED_ARGUMENTS = {"context_length": "max_sequence_length"}


class BaseModel(keras.Model):
    """A functional model whose config is its constructor's arguments.

    Subclasses store every constructor argument (all but `dtype` and
    `**kwargs`) as an attribute of the same name. Then:

    - `get_config()` returns `name`, `trainable` and those attributes; a
      nested Keras object (a BERT head's `encoder`) is serialized whole, a
      function (an activation) by its registered name.
    - `from_config(config)` renames old argument names
      (`RENAMED_ARGUMENTS`), deserializes nested objects and calls the
      constructor, so `.keras` files round-trip, those saved by older
      tfzoo releases included.

    Example:
    >>> model = TransformerLM(vocabulary_size=65, max_sequence_length=64,
    ...                       num_layers=2, num_heads=4, hidden_dim=64)
    >>> TransformerLM.from_config(model.get_config()).count_params() == (
    ...     model.count_params())
    True
    """

    @classmethod
    def config_arguments(cls):
        """The constructor arguments that make up the config, in order."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in parameters
                if p.name not in ("self", "dtype")
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        for name in self.config_arguments():
            config[name] = _serialize(getattr(self, name))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for old, new in RENAMED_ARGUMENTS.items():
            if old in config:
                config[new] = config.pop(old)
        return cls(**{name: _deserialize(value)
                      for name, value in config.items()})


def _serialize(value):
    if isinstance(value, keras.layers.Layer):
        return keras.saving.serialize_keras_object(value)
    if callable(value):
        return keras.activations.serialize(value)
    return value


def _deserialize(value):
    if isinstance(value, dict) and "class_name" in value:
        return keras.saving.deserialize_keras_object(value)
    return value
