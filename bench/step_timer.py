"""`StepTimer`: the wall time of each training step, for the benchmarks."""

import time

import keras


class StepTimer(keras.callbacks.Callback):
    """Records the seconds of every training step in `times`; the means
    leave out the first `skip` steps (which include tracing and
    compiling)."""

    def __init__(self, skip=10):
        super().__init__()
        self.skip, self.times = skip, []

    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self.start)

    def seconds_per_step(self):
        times = self.times[self.skip:]
        return sum(times) / len(times)

    def ms_per_step(self):
        return 1000 * self.seconds_per_step()
