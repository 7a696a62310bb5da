"""Checks on `mmkeras train` output directories, shared by the tests."""

import io
import json
import os
import zipfile

import h5py
import numpy as np

from mmkeras import training


def snapshot(directory):
    """Every file under `directory`: its bytes and modification time."""
    found = {}
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as file:
                found[path] = (file.read(), os.stat(path).st_mtime_ns)
    return found


def variables(model):
    """Every variable of a model in memory and of its optimizer: weights,
    seed states, optimizer slots and step count."""
    state = list(model.variables) + list(model.optimizer.variables)
    return [v.numpy() for v in state]


def saved_weights(path):
    """Every array a `.keras` file restores (its weights and optimizer
    variables), by its name in the file, read without building the model."""
    arrays = {}

    def keep(name, item):
        if isinstance(item, h5py.Dataset):
            arrays[name] = item[()]

    with zipfile.ZipFile(path) as archive:
        weights_file = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(weights_file, "r") as file:
        file.visititems(keep)
    return arrays


def assert_same_run(resumed, straight):
    """`resumed` (a directory) finished with the saved weights, history
    and metrics of the uninterrupted run in `straight`."""
    assert training.is_finished(resumed)
    got, expected = (
        saved_weights(os.path.join(d, "model.keras"))
        for d in (resumed, straight)
    )
    assert got.keys() == expected.keys()
    for name, array in got.items():
        np.testing.assert_allclose(array, expected[name], atol=1e-5)
    for name in ("history.json", "metrics.json"):
        if os.path.exists(os.path.join(straight, name)):
            got, expected = (
                json.loads(open(os.path.join(d, name)).read())
                for d in (resumed, straight)
            )
            assert got.keys() == expected.keys(), name
            for key, values in got.items():
                np.testing.assert_allclose(values, expected[key], atol=1e-5)
