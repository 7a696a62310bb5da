"""Colour match (`mmkeras.data.color_match`): seeded, balanced, each
modality alone uninformative, and the splits a config names."""

import numpy as np
import pytest

import mmkeras
from mmkeras.data.color_match import RGB
from mmkeras.data.color_match import VOCABULARY
from mmkeras.data.shapes import COLORS


def test_color_match_is_seeded_balanced_and_unimodally_uninformative():
    first = mmkeras.data.color_match_arrays(600, seed=3)
    again = mmkeras.data.color_match_arrays(600, seed=3)
    other = mmkeras.data.color_match_arrays(600, seed=4)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(first["image"], other["image"])
    labels = first["label"]
    assert labels.mean() == 0.5
    match = first["image_color"] == first["text_color"]
    np.testing.assert_array_equal(match, labels == 1)
    # Each modality's colour is spread over all colours in both classes.
    for key in ("image_color", "text_color"):
        for label in (0, 1):
            counts = np.bincount(first[key][labels == label], minlength=6)
            assert counts.min() > 30, (key, label, counts)
    for image, color, text, text_color in zip(
        first["image"][:20],
        first["image_color"],
        first["text"],
        first["text_color"],
        strict=False,
    ):
        drawn = np.unique(image.reshape(-1, 3), axis=0)
        rgb = RGB[COLORS[color]]
        assert {tuple(p) for p in drawn} == {(255, 255, 255), tuple(rgb)}
        assert COLORS[text_color] in text.split()


def test_the_vocabulary_holds_every_word_of_every_text():
    texts = mmkeras.data.color_match_arrays(200, seed=0)["text"]
    words = {word for text in texts for word in str(text).split()}
    assert words <= set(VOCABULARY)
    assert VOCABULARY[:2] == ["[PAD]", "[UNK]"]


def test_the_registered_splits_are_the_dataset_batched():
    train, validation = mmkeras.data.DATASETS.call(
        {"name": "color_match", "kwargs": {"num_train": 64}},
        num_validation=16,
        batch_size=8,
    )
    assert int(train.cardinality()) == 8
    batch = next(iter(validation))
    raw = mmkeras.data.color_match_arrays(16, seed=1)
    np.testing.assert_array_equal(batch["image"], raw["image"][:8])
    alone = mmkeras.data.build_splits(
        {"name": "color_match", "kwargs": {"num_validation": 16}},
        "validation",
    )
    np.testing.assert_array_equal(
        next(iter(alone))["label"][:8], raw["label"][:8]
    )
    with pytest.raises(ValueError, match="split must be None"):
        mmkeras.data.build_splits({"name": "color_match"}, "test")
