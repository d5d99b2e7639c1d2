"""`lifecycle.with_known_length`: validation data whose end Keras knows."""

import warnings

import keras
import numpy as np
import tensorflow as tf

from tfzoo.training.lifecycle import with_known_length


def batches_of_unknown_length():
    # A filter, as length buckets do, leaves tf.data not knowing the length.
    return (tf.data.Dataset.range(50).filter(lambda x: x % 3 > 0)
            .map(lambda x: (tf.cast([x], "float32"), tf.cast([x], "float32")))
            .batch(4))


def test_the_length_is_counted_and_the_batches_kept():
    dataset = batches_of_unknown_length()
    assert int(dataset.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    known = with_known_length(dataset)
    assert int(known.cardinality()) == 9  # 33 numbers in batches of 4
    assert [x.numpy().tolist() for x, _ in known] == [
        x.numpy().tolist() for x, _ in dataset]
    endless = tf.data.Dataset.range(3).repeat()
    assert with_known_length(endless) is endless  # not counted forever
    assert with_known_length(None) is None


def ran_out_warnings(validation_data):
    """The "ran out of data" warnings of a 2-epoch `fit` with
    `validation_data`."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    train = tf.data.Dataset.from_tensor_slices(
        (np.ones((8, 1), "float32"), np.ones((8, 1), "float32"))).batch(4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(train.repeat(), steps_per_epoch=2, epochs=2, verbose=0,
                  validation_data=validation_data)
    return [w for w in caught if "ran out of data" in str(w.message)]


def test_validation_says_nothing_of_running_out_of_data():
    assert ran_out_warnings(batches_of_unknown_length())  # Keras' warning
    assert not ran_out_warnings(with_known_length(
        batches_of_unknown_length()))
