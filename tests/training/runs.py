"""Checks on `mmkeras train` output directories, shared by the tests."""

import json
import os

import keras
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


def weights(model):
    """What a `.keras` file restores (seed states are drawn anew on every
    load), and the optimizer's variables."""
    state = list(model.weights) + list(model.optimizer.variables)
    return [v.numpy() for v in state]


def assert_same_run(resumed, straight, model=None):
    """`resumed` (a directory) finished with the weights, history and
    metrics of the uninterrupted run in `straight`, whose model `model` is
    (read from its `model.keras` if not given)."""
    assert training.is_finished(resumed)
    if model is None:
        model = keras.saving.load_model(os.path.join(straight, "model.keras"))
    saved = keras.saving.load_model(os.path.join(resumed, "model.keras"))
    for a, b in zip(weights(saved), weights(model), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    for name in ("history.json", "metrics.json"):
        if os.path.exists(os.path.join(straight, name)):
            got, expected = (
                json.loads(open(os.path.join(d, name)).read())
                for d in (resumed, straight)
            )
            assert got.keys() == expected.keys(), name
            for key, values in got.items():
                np.testing.assert_allclose(values, expected[key], atol=1e-5)
