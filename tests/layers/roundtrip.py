"""Shared check: a layer inside a model survives a `.keras` round trip."""

import keras
import numpy as np


def assert_keras_round_trip(layer, inputs, tmp_path):
    """Saves a one-layer model to `.keras`, reloads it, compares outputs."""
    model_inputs = keras.Input(shape=inputs.shape[1:], dtype=inputs.dtype)
    model = keras.Model(model_inputs, layer(model_inputs))
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    restored_layer = restored.layers[-1]
    assert type(restored_layer) is type(layer)
    assert restored_layer.get_config() == layer.get_config()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored(inputs)),
        keras.ops.convert_to_numpy(model(inputs)),
    )
