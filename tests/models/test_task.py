"""The task base: raw data through the preprocessor in fit/evaluate/
predict, shuffling of raw arrays, and the errors of its contract."""

import warnings

import numpy as np
import pytest
import tensorflow as tf

from mmkeras.testing import tiny_models

SIZE = tiny_models.IMAGE_SIZE


def _raw(count=8):
    rng = np.random.default_rng(0)
    return {
        "image": rng.integers(0, 256, (count, SIZE + 5, SIZE, 3), "uint8"),
        "text": np.array(["what shape is the red circle"] * count),
        "label": np.arange(count) % 3,
    }


def test_fit_on_a_dataset_passes_no_shuffle_keras_would_ignore():
    model = tiny_models.model("fusion")
    model.compile()
    dataset = tf.data.Dataset.from_tensor_slices(_raw()).batch(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def _label_orders(model, raw, shuffle):
    dataset, _, _ = model._preprocessed(raw, None, 64, shuffle)
    return [
        np.concatenate([y.numpy() for _, y in dataset]).tolist()
        for _ in range(2)
    ]


def test_raw_arrays_are_shuffled_every_epoch_unless_asked_not_to():
    model = tiny_models.model("fusion")
    raw = {**_raw(64), "label": np.arange(64)}
    first, second = _label_orders(model, raw, shuffle=True)
    assert sorted(first) == list(range(64)) and first != second
    assert _label_orders(model, raw, shuffle=False) == [list(range(64))] * 2
    model.compile()
    history = model.fit({**raw, "label": raw["label"] % 3}, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_y_with_a_dataset_is_refused():
    model = tiny_models.model("fusion")
    dataset = tf.data.Dataset.from_tensor_slices(_raw()).batch(4)
    with pytest.raises(ValueError, match="y must be None"):
        model.evaluate(dataset, np.zeros(8), verbose=0)
