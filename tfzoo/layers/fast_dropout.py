"""Dropout that draws one random number for every three elements."""

import keras
from keras import ops

# Each element is kept or dropped by 8 random bits, three elements per draw
# of a 24-bit random integer.
BITS = 8
LEVELS = 2**BITS
ELEMENTS_PER_DRAW = 3


@keras.saving.register_keras_serializable(package="tfzoo")
class FastDropout(keras.layers.Layer):
    """`keras.layers.Dropout`, with a third of the random numbers.

    Dropout's cost on a CPU is mostly the random number generator: XLA's
    Philox generator takes several times longer than the multiply it
    serves. This layer draws one 24-bit random integer per three elements
    and gives each element 8 of its bits: an element is dropped when its
    8 bits, read as 0..255, fall below `round(rate * 256)`. The rate is
    thus rounded to a multiple of 1/256 (0.1 becomes 26/256 = 0.1016, 0.2
    becomes 51/256 = 0.1992; see `effective_rate`), and kept elements are
    scaled by `1 / (1 - effective_rate)` so the expected output equals the
    input. `bench/train_throughput.py` trains `gpt-shakespeare-char`
    (dropout 0.2) 1.05x faster with it than with Keras's dropout; in
    smaller models, where the matmuls take less of the time, the gain is
    larger.

    Args:
        rate: float in [0, 1]. Fraction of the inputs to drop in training.
        seed: optional int, the seed of the random numbers.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> layer = FastDropout(0.5, seed=1)
    >>> x = keras.ops.ones((2, 6))
    >>> bool(keras.ops.all(layer(x) == x))  # inference: unchanged
    True
    >>> y = layer(x, training=True)  # each element 0 or 2
    >>> bool(keras.ops.all((y == 0) | (y == 2)))
    True
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be in [0, 1]; got {rate}.")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    @property
    def effective_rate(self):
        """The rate actually applied: `rate` rounded to a multiple of 1/256
        (at least 1/256 when `rate > 0`)."""
        return self._threshold() / LEVELS

    def _threshold(self):
        threshold = round(self.rate * LEVELS)
        return max(threshold, 1) if self.rate > 0 else 0

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if self._threshold() == LEVELS:
            return ops.zeros_like(inputs)
        shape = ops.shape(inputs)
        size = ops.size(inputs)
        draws = keras.random.randint(
            (-(-size // ELEMENTS_PER_DRAW),),
            minval=0,
            maxval=2 ** (BITS * ELEMENTS_PER_DRAW),
            seed=self.seed_generator,
        )
        # Split each draw into its bytes: (draws, 3), then one per element.
        uniform_bytes = ops.stack(
            [
                ops.bitwise_and(ops.right_shift(draws, BITS * i), LEVELS - 1)
                for i in range(ELEMENTS_PER_DRAW)
            ],
            axis=-1,
        )
        uniform_bytes = ops.reshape(uniform_bytes, (-1,))[:size]
        keep = ops.reshape(uniform_bytes, shape) >= self._threshold()
        scale = ops.cast(1 / (1 - self.effective_rate), inputs.dtype)
        return ops.where(keep, inputs * scale, ops.zeros_like(inputs))

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
