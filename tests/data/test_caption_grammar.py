"""The shapes caption grammar and the caption splits configs name."""

import numpy as np
import tensorflow as tf

import mmkeras
from mmkeras.data import caption_grammar
from mmkeras.data import splits
from mmkeras.models.captioner import builders


def test_the_vocabulary_holds_every_word_of_every_caption():
    grammar = caption_grammar.all_captions()
    words = {word for text in grammar for word in text.split()}
    assert words == set(caption_grammar.CAPTION_WORDS)
    assert words <= set(caption_grammar.caption_vocabulary())
    assert caption_grammar.CAPTION_VOCABULARY[:2] == ["[PAD]", "[UNK]"]
    assert len(grammar) == 2 * (12 + 4 * 12 * 10)


def test_relevance_from_the_scene_arrays_is_caption_truth():
    truth = caption_grammar.caption_truth(30, seed=3)
    elements = list(splits.caption_pairs(30, 3).unbatch().as_numpy_iterator())
    relevant = caption_grammar.relevance(
        [e["scene"] for e in elements], [e["caption"] for e in elements]
    )
    np.testing.assert_array_equal(relevant, truth)
    assert truth.diagonal().all() and 0.05 < truth.mean() < 0.5


def test_scene_from_array_inverts_scene_array():
    for scene in mmkeras.data.generate_scenes(5, seed=2):
        array = mmkeras.data.shapes.scene_array(scene)
        assert caption_grammar.scene_from_array(array) == scene


def test_the_evaluation_set_is_the_test_split_of_seed_1():
    images, references, scenes = caption_grammar.evaluation_set(4)
    test = list(splits.caption_test_split(4).batch(5).as_numpy_iterator())
    np.testing.assert_array_equal(images, [e["image"][0] for e in test])
    assert references[0] == [c.decode() for c in test[0]["caption"]]
    assert scenes == mmkeras.data.generate_scenes(4, seed=1)


def test_caption_splits_transform_every_example_before_the_model():
    def blank(example):
        return example | {"image": tf.zeros((2, 2, 1))}

    preprocessor = builders.shapes_caption_preprocessor()
    plain = splits.caption_splits(8, 4, batch_size=4, captions=1)
    blanked = splits.caption_splits(
        8, 4, batch_size=4, captions=1, transform=blank
    )
    for split, blanked_split in zip(plain, blanked, strict=True):
        raw, blank_raw = (next(iter(s)) for s in (split, blanked_split))
        assert raw["image"].dtype == tf.uint8  # raw: the model converts
        assert raw["image"].shape[1:] == (75, 75, 3)
        assert not np.any(blank_raw["image"])
        inputs, labels = preprocessor(raw)
        blank_inputs, blank_labels = preprocessor(blank_raw)
        # The converter resizes whatever comes to the model's size.
        assert blank_inputs["image"].shape == (4, 75, 75, 1)
        assert inputs["token_ids"].shape == (4, builders.SEQUENCE_LENGTH)
        np.testing.assert_array_equal(blank_labels, labels)
    validation = splits.caption_splits(
        8, 4, batch_size=4, captions=1, split="validation"
    )
    first = next(iter(validation))
    np.testing.assert_array_equal(first["image"], next(iter(plain[1]))["image"])
