"""Callbacks that make training safe to interrupt."""

import json
import os

import keras
import numpy as np


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Saves the whole model to `path` after every epoch, atomically.

    The `.keras` file is written next to `path` and renamed over it, so a
    crash mid-save leaves the previous checkpoint intact.
    """

    def __init__(self, path):
        super().__init__()
        self.path = os.fspath(path)

    def on_epoch_end(self, epoch, logs=None):
        temporary = f"{self.path}.tmp.keras"
        self.model.save(temporary)
        os.replace(temporary, self.path)


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
        temporary = f"{self.path}.tmp"
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(history, file, indent=2)
        os.replace(temporary, self.path)


def read_history(path):
    """The history a `HistoryLog` wrote, `{}` if there is none yet."""
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as file:
        return json.load(file)


class StepBackup(keras.callbacks.Callback):
    """Backs up the whole training state every `every_steps` steps.

    The state is every model variable (weights, and the random-seed states
    that `save_weights` leaves out) and every optimizer variable (slots and
    the step count), in one `.npz` written atomically. Unlike
    `keras.callbacks.BackupAndRestore`, which restarts an interrupted epoch
    from its first batch with new dropout masks, `restore` brings back the
    exact state and its step count, so `mmkeras.training.train` resumes
    where the run stopped.
    """

    FILENAME = "state.npz"

    def __init__(self, directory, every_steps=None):
        super().__init__()
        self.directory = os.fspath(directory)
        self.every_steps = every_steps

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if self.every_steps and step % self.every_steps == 0:
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        self._save()

    def _save(self):
        os.makedirs(self.directory, exist_ok=True)
        temporary = os.path.join(self.directory, "saving.npz")
        values = [v.numpy() for v in _state_variables(self.model)]
        np.savez(temporary, *values)
        os.replace(temporary, os.path.join(self.directory, self.FILENAME))

    @classmethod
    def restore(cls, model, directory):
        """Loads the backup in `directory` if any; returns its step count."""
        path = os.path.join(os.fspath(directory), cls.FILENAME)
        if not os.path.exists(path):
            return 0
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        variables = _state_variables(model)
        with np.load(path) as backup:
            values = [backup[f"arr_{i}"] for i in range(len(backup.files))]
        shapes = [tuple(v.shape) for v in variables]
        if [value.shape for value in values] != shapes:
            raise ValueError(
                f"The backup {path} was written by a different model or "
                "optimizer than this config builds. Delete it to start "
                "over, or train into another output directory."
            )
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)
        return int(model.optimizer.iterations.numpy())


def _state_variables(model):
    return list(model.variables) + list(model.optimizer.variables)
