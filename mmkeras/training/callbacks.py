"""Callbacks that make training safe to interrupt.

`mmkeras.training.train` lists them in this order, which a resume relies
on: after each epoch the model is saved, then the history, then the
backup; so a backup at an epoch's end means that epoch's model and history
are written.
"""

import json
import os
import zipfile

import keras
import numpy as np

from mmkeras import _files


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Saves the whole model to `path` after every epoch, atomically.

    The `.keras` file is written next to `path` and renamed over it, so a
    crash mid-save leaves the previous checkpoint intact.
    """

    def __init__(self, path):
        super().__init__()
        self.path = os.fspath(path)

    def on_epoch_end(self, epoch, logs=None):
        with _files.atomic_path(self.path, suffix=".keras") as temporary:
            self.model.save(temporary)


class HistoryLog(keras.callbacks.Callback):
    """Writes the run's history to a JSON file after every epoch,
    atomically: `{"epoch": [1, 2, ...], "loss": [...], ...}`, like
    `keras.callbacks.History` but across the calls of a resumed run. An
    epoch trained again (after a crash) replaces its earlier entries.
    """

    def __init__(self, path):
        super().__init__()
        self.path = os.fspath(path)

    def on_epoch_end(self, epoch, logs=None):
        history = read_history(self.path)
        kept = sum(1 for e in history.get("epoch", []) if e <= epoch)
        history = {key: values[:kept] for key, values in history.items()}
        for key, value in {"epoch": epoch + 1, **(logs or {})}.items():
            # A metric first logged now has no value for earlier epochs.
            column = history.setdefault(key, [None] * kept)
            column.append(float(value) if key != "epoch" else value)
        _files.write_json(self.path, history)


def read_history(path):
    """The history a `HistoryLog` wrote, `{}` if there is none yet."""
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as file:
        return json.load(file)


class StepBackup(keras.callbacks.Callback):
    """Backs up the whole training state every `every_steps` steps and
    after every epoch.

    The state is every model variable (weights, and the random-seed states
    that `save_weights` leaves out), every optimizer variable (slots and
    the step count) and the running metrics of the epoch, in one `.npz`
    written atomically. Unlike `keras.callbacks.BackupAndRestore`, which
    restarts an interrupted epoch from its first batch with new dropout
    masks, `restore` brings back the exact state and its step count, so
    `mmkeras.training.train` resumes where the run stopped and logs the
    interrupted epoch's metrics as if it never stopped. The epoch's last
    step is backed up by `on_epoch_end` only, after the callbacks before
    this one have saved the epoch.

    The model and its optimizer must be built before `restore` (Keras
    builds a subclassed model on its first batch otherwise).
    """

    FILENAME = "state.npz"
    GROUPS = ("model", "optimizer", "metrics")

    def __init__(self, directory, every_steps=None):
        super().__init__()
        self.directory = os.fspath(directory)
        self.every_steps = every_steps
        self._metrics = None

    @property
    def path(self):
        return os.path.join(self.directory, self.FILENAME)

    def on_epoch_begin(self, epoch, logs=None):
        # `fit` resets the metrics before this: put back the interrupted
        # epoch's running totals.
        if self._metrics is not None:
            for variable, value in zip(
                self.model.metrics_variables, self._metrics, strict=True
            ):
                variable.assign(value)
            self._metrics = None

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        last = batch + 1 == self.params.get("steps")
        if self.every_steps and step % self.every_steps == 0 and not last:
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        self._save()

    def _save(self):
        os.makedirs(self.directory, exist_ok=True)
        arrays = {
            f"{group}_{i}": variable.numpy()
            for group, variables in _groups(self.model).items()
            for i, variable in enumerate(variables)
        }
        step = self.model.optimizer.iterations.numpy()
        with _files.atomic_path(self.path, suffix=".npz") as temporary:
            np.savez(temporary, step=step, **arrays)

    @classmethod
    def saved_step(cls, directory):
        """The step count of the backup in `directory`, 0 if none."""
        path = os.path.join(os.fspath(directory), cls.FILENAME)
        if not os.path.exists(path):
            return 0
        restart = (
            "Start over: `mmkeras train ... --restart` (`train(..., "
            "restart=True)`) moves this run aside."
        )
        try:
            with np.load(path) as backup:
                files = backup.files
                step = int(backup["step"]) if "step" in files else None
        except (OSError, ValueError, zipfile.BadZipFile):
            raise ValueError(
                f"The backup {path} cannot be read: it is damaged or not "
                f"a backup mmkeras wrote. {restart}"
            ) from None
        if step is None:
            raise ValueError(
                f"The backup {path} was written by an older mmkeras and "
                f"cannot be resumed. {restart}"
            )
        return step

    def restore(self, model, steps_per_epoch):
        """Loads the backup, if any, into the built `model` and its
        optimizer (and, resuming mid-epoch, the epoch's metrics at its
        first batch); returns its step count."""
        step = self.saved_step(self.directory)
        if not step:
            return 0
        with np.load(self.path) as backup:
            saved = {
                group: [
                    backup[f"{group}_{i}"]
                    for i in range(_count(backup.files, group))
                ]
                for group in self.GROUPS
            }
        groups = _groups(model)
        for group, variables in groups.items():
            shapes = [tuple(v.shape) for v in variables]
            if [value.shape for value in saved[group]] != shapes:
                raise ValueError(
                    f"The backup {self.path} was written by a different "
                    f"{group} than this config builds ({len(saved[group])} "
                    f"variables, this one has {len(shapes)}). Start over "
                    "with `mmkeras train ... --restart` (`train(..., "
                    "restart=True)`), or train into another output "
                    "directory."
                )
        for group in ("model", "optimizer"):
            for variable, value in zip(
                groups[group], saved[group], strict=True
            ):
                variable.assign(value)
        if step % steps_per_epoch:
            self._metrics = saved["metrics"]
        return step


def _groups(model):
    return {
        "model": list(model.variables),
        "optimizer": list(model.optimizer.variables),
        "metrics": list(model.metrics_variables),
    }


def _count(names, group):
    return sum(1 for name in names if name.startswith(f"{group}_"))
