import keras
import numpy as np
import tensorflow as tf

import mmkeras
from mmkeras.models.fusion import FusionPreprocessor

WORDS = ["[PAD]", "[UNK]", "a", "red", "blue", "shape"]


def make_preprocessor(image_size=(4, 4)):
    return FusionPreprocessor(
        mmkeras.layers.ImageConverter(image_size=image_size),
        mmkeras.text.WordPieceTokenizer(WORDS, sequence_length=5),
    )


def raw(batch=2):
    rng = np.random.default_rng(0)
    return {
        "image": rng.integers(0, 256, (batch, 4, 4, 3), "uint8"),
        "text": np.array(["a red shape", "blue"][:batch]),
        "label": np.array([1, 0][:batch]),
    }


def test_basics():
    preprocessor = make_preprocessor((3, 3))
    name = "mmkeras>FusionPreprocessor"
    assert keras.saving.get_registered_object(name) is FusionPreprocessor
    config = keras.saving.serialize_keras_object(preprocessor)
    copy = keras.saving.deserialize_keras_object(config)
    assert type(copy) is FusionPreprocessor
    assert copy.get_config() == preprocessor.get_config()
    assert copy.image_converter.image_size == (3, 3)
    expected = preprocessor(raw())
    actual = copy(raw())
    for key in ("image", "token_ids"):
        np.testing.assert_allclose(actual[0][key], expected[0][key])
    np.testing.assert_array_equal(actual[1], expected[1])


def test_raw_examples_become_inputs_and_labels():
    data = raw()
    inputs, labels = make_preprocessor()(data)
    assert sorted(inputs) == ["image", "token_ids"]
    assert inputs["image"].dtype == tf.float32
    np.testing.assert_allclose(inputs["image"], data["image"] / 255.0)
    np.testing.assert_array_equal(
        inputs["token_ids"], [[2, 3, 5, 0, 0], [4, 0, 0, 0, 0]]
    )
    np.testing.assert_array_equal(labels, [1, 0])


def test_a_given_label_wins_and_no_label_gives_inputs_only():
    data = raw()
    _, labels, weights = make_preprocessor()(
        data, np.array([7, 8]), np.array([0.5, 1.0])
    )
    np.testing.assert_array_equal(labels, [7, 8])
    np.testing.assert_array_equal(weights, [0.5, 1.0])
    unlabelled = {key: data[key] for key in ("image", "text")}
    inputs = make_preprocessor()(unlabelled)
    assert sorted(inputs) == ["image", "token_ids"]


def test_it_maps_single_examples_and_resizes():
    dataset = tf.data.Dataset.from_tensor_slices(raw())
    inputs, label = next(iter(dataset.map(make_preprocessor((2, 3)))))
    assert inputs["image"].shape == (2, 3, 3)
    assert inputs["token_ids"].shape == (5,)
    assert int(label) == 1
