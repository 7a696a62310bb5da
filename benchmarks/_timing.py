"""Step timing shared by the benchmark scripts (run from the repository
root as `python benchmarks/<script>.py`, which puts this folder on the
import path)."""

import time

import keras


class StepTimer(keras.callbacks.Callback):
    """Records the wall time of every training step."""

    def __init__(self):
        super().__init__()
        self.step_seconds = []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.step_seconds.append(time.perf_counter() - self._start)


def fit_steps(model, data, steps, callbacks=()):
    """`steps` training steps of `model.fit` on `data`, quietly."""
    model.fit(
        data,
        epochs=1,
        steps_per_epoch=steps,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks),
    )
