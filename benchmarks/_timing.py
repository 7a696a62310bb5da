"""Step timing and table printing shared by the benchmark scripts (run
from the repository root as `python benchmarks/<script>.py`, which puts
this folder on the import path)."""

import os
import time

import keras
import rich.console


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


def print_table(table, started, note=None):
    """Prints `table` with `note`, the wall time since `started` and the
    load average as its caption; returns the console, 120 columns wide when
    piped to a file."""
    table.caption = (
        f"{note + '; ' if note else ''}wall time "
        f"{time.perf_counter() - started:.0f} s; load average at the end "
        f"{os.getloadavg()[0]:.1f}"
    )
    console = rich.console.Console()
    if not console.is_terminal:
        console = rich.console.Console(width=120)
    console.print(table)
    return console
