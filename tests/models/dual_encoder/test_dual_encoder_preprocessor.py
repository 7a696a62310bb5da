import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.models.dual_encoder import DualEncoderPreprocessor

WORDS = ["[PAD]", "[UNK]", "a", "red", "blue", "circle"]


def make_preprocessor(**kwargs):
    return DualEncoderPreprocessor(
        mmkeras.layers.ImageConverter(image_size=(4, 4)),
        mmkeras.text.WordPieceTokenizer(WORDS, sequence_length=5),
        **kwargs,
    )


def raw(batch=2):
    rng = np.random.default_rng(0)
    return {
        "image": rng.integers(0, 256, (batch, 4, 4, 3), "uint8"),
        "caption": np.array(["a red circle", "blue"][:batch]),
        "scene": np.zeros((batch, 3)),
    }


def test_basics():
    preprocessor = make_preprocessor(text_key="text")
    name = "mmkeras>DualEncoderPreprocessor"
    assert keras.saving.get_registered_object(name) is DualEncoderPreprocessor
    config = keras.saving.serialize_keras_object(preprocessor)
    copy = keras.saving.deserialize_keras_object(config)
    assert type(copy) is DualEncoderPreprocessor
    assert copy.get_config() == preprocessor.get_config()
    assert copy.text_key == "text"
    data = {"image": raw()["image"], "text": raw()["caption"]}
    for key, value in copy(data).items():
        np.testing.assert_allclose(value, preprocessor(data)[key])


def test_raw_pairs_become_pixels_and_token_ids():
    data = raw()
    inputs = make_preprocessor()(data)
    assert sorted(inputs) == ["image", "token_ids"]  # "scene" is dropped
    assert inputs["image"].dtype == tf.float32
    np.testing.assert_allclose(inputs["image"], data["image"] / 255.0)
    np.testing.assert_array_equal(
        inputs["token_ids"], [[2, 3, 5, 0, 0], [4, 0, 0, 0, 0]]
    )


def test_labels_and_weights_pass_through():
    inputs, labels, weights = make_preprocessor()(
        raw(), np.array([1, 2]), np.array([0.5, 1.0])
    )
    np.testing.assert_array_equal(labels, [1, 2])
    np.testing.assert_array_equal(weights, [0.5, 1.0])
    assert sorted(inputs) == ["image", "token_ids"]


def test_the_shapes_captions_map_to_model_inputs():
    dataset = mmkeras.data.shapes_captions(
        4, seed=0, captions_per_image=1, batch_size=4
    )
    batch = next(iter(dataset.map(make_preprocessor())))
    assert batch["image"].shape == (4, 4, 4, 3)
    # Antialiased downsizing rounds a little past the range.
    assert -1e-5 <= float(tf.reduce_min(batch["image"]))
    assert float(tf.reduce_max(batch["image"])) <= 1.0 + 1e-5
    assert batch["token_ids"].shape == (4, 5)


def test_float_images_out_of_range_are_refused():
    data = {**raw(), "image": raw()["image"].astype("float32")}
    with pytest.raises(ValueError, match="float images must be in"):
        make_preprocessor()(data)


@pytest.mark.parametrize("text_key", ["", 3])
def test_bad_text_key(text_key):
    with pytest.raises(ValueError, match=f"Received: text_key={text_key!r}"):
        make_preprocessor(text_key=text_key)
