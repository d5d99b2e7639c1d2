import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from tests.layers.roundtrip import assert_keras_round_trip
from tfzoo.layers import FastDropout


def test_inference_returns_the_inputs():
    x = np.random.default_rng(0).normal(size=(4, 5, 7)).astype("float32")
    layer = FastDropout(0.5)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)), x)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(layer(x, training=False)), x)


@pytest.mark.parametrize("rate, dropped", [
    (0.0, 0), (0.1, 26), (0.2, 51), (0.5, 128), (0.001, 1), (1.0, 256)])
def test_effective_rate_is_rate_in_256ths(rate, dropped):
    assert FastDropout(rate).effective_rate == dropped / 256


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.5])
def test_drops_the_effective_rate_and_keeps_the_mean(rate):
    # 64 x 257 x 7 elements: not a multiple of the 3 elements per draw.
    x = np.ones((64, 257, 7), "float32")
    layer = FastDropout(rate, seed=1)
    y = ops.convert_to_numpy(layer(x, training=True))
    kept_value = 1 / (1 - layer.effective_rate)
    assert set(np.unique(y)) <= {0.0, np.float32(kept_value)}
    assert abs((y == 0).mean() - layer.effective_rate) < 0.005
    assert abs(y.mean() - 1) < 0.01


def test_masks_differ_between_calls_and_elements():
    x = np.ones((3, 300), "float32")
    layer = FastDropout(0.5, seed=2)
    first = ops.convert_to_numpy(layer(x, training=True)) == 0
    second = ops.convert_to_numpy(layer(x, training=True)) == 0
    assert (first != second).mean() > 0.4
    # Neighbours share a random draw but not its bits.
    assert (first[:, 0::3] != first[:, 1::3]).mean() > 0.4
    # Rows are not copies of each other.
    assert (first[0] != first[1]).mean() > 0.4


def test_same_seed_same_masks():
    x = np.ones((2, 50), "float32")
    a, b = FastDropout(0.3, seed=7), FastDropout(0.3, seed=7)
    for _ in range(2):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(a(x, training=True)),
            ops.convert_to_numpy(b(x, training=True)))


def test_rate_one_drops_everything():
    y = FastDropout(1.0)(np.ones((2, 4), "float32"), training=True)
    np.testing.assert_array_equal(ops.convert_to_numpy(y), 0)


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_rate_out_of_range(rate):
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\]"):
        FastDropout(rate)


def test_gradient_is_the_mask_times_the_scale():
    layer = FastDropout(0.25, seed=3)
    x = tf.Variable(np.ones((8, 30), "float32"))
    with tf.GradientTape() as tape:
        y = layer(x, training=True)
    gradient = tape.gradient(y, x).numpy()
    np.testing.assert_array_equal(gradient, y.numpy())


@pytest.mark.parametrize("jit_compile", [False, True])
def test_unknown_shapes_in_a_compiled_function(jit_compile):
    layer = FastDropout(0.5, seed=4)
    call = tf.function(
        lambda x: layer(x, training=True), jit_compile=jit_compile,
        input_signature=[tf.TensorSpec((None, None), "float32")])
    y = call(np.ones((5, 11), "float32")).numpy()
    assert y.shape == (5, 11)
    assert 0 < (y == 0).sum() < y.size


def test_keras_round_trip(tmp_path):
    layer = FastDropout(0.2, seed=5)
    assert FastDropout.from_config(layer.get_config()).get_config() == (
        layer.get_config())
    assert_keras_round_trip(
        layer, np.ones((2, 6, 4), "float32"), tmp_path)


def test_in_a_keras_model_fit():
    model = keras.Sequential([
        keras.Input((10,)), FastDropout(0.5), keras.layers.Dense(1)])
    model.compile("sgd", "mse", jit_compile=True)
    history = model.fit(np.ones((16, 10)), np.ones((16, 1)), epochs=2,
                        verbose=0)
    assert np.isfinite(history.history["loss"]).all()
