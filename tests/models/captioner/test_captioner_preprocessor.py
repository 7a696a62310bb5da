import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.models.captioner import CaptionerPreprocessor

LENGTH = 6
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "red", "blue", "circle"]


def _tokenizer(sequence_length=LENGTH + 1):
    return mmkeras.text.WordPieceTokenizer(
        WORDS, sequence_length=sequence_length, add_start_end=True
    )


def _preprocessor(**kwargs):
    kwargs = {
        "image_converter": mmkeras.layers.ImageConverter(image_size=(8, 8)),
        "tokenizer": _tokenizer(),
        "sequence_length": LENGTH,
        **kwargs,
    }
    return CaptionerPreprocessor(**kwargs)


def _examples():
    rng = np.random.default_rng(0)
    return {
        "image": rng.integers(0, 256, (3, 12, 10, 3), "uint8"),
        "caption": np.array(["a red circle", "blue", "a a a a a a a a"]),
    }


def test_teacher_forcing_shifts_the_caption_ids_by_one():
    examples = _examples()
    inputs, labels = _preprocessor()(examples)
    ids = _tokenizer()(examples["caption"]).numpy()
    np.testing.assert_array_equal(inputs["token_ids"], ids[:, :-1])
    np.testing.assert_array_equal(labels, ids[:, 1:])
    np.testing.assert_array_equal(inputs["token_ids"][:, 0], 2)  # [CLS]
    np.testing.assert_array_equal(inputs["token_ids"][0, :5], [2, 4, 5, 7, 3])
    np.testing.assert_array_equal(labels[0], [4, 5, 7, 3, 0, 0])
    # Too long: cut at sequence_length + 1 ids.
    assert inputs["token_ids"].shape == labels.shape == (3, LENGTH)


def test_images_go_through_the_converter():
    examples = _examples()
    inputs, _ = _preprocessor()(examples)
    converter = mmkeras.layers.ImageConverter(image_size=(8, 8))
    expected = converter(examples["image"])
    np.testing.assert_allclose(inputs["image"], expected)
    assert inputs["image"].dtype == tf.float32
    assert set(inputs) == {"image", "token_ids"}


def test_an_image_alone_gives_the_image_alone():
    examples = _examples()
    preprocessor = _preprocessor()
    inputs = preprocessor({"image": examples["image"]})
    assert set(inputs) == {"image"} and inputs["image"].shape == (3, 8, 8, 3)
    pixels = preprocessor.generate_preprocess(examples["image"] / 255.0)
    np.testing.assert_allclose(pixels, inputs["image"], atol=1e-6)


def test_ragged_captions_are_padded_with_the_tokenizers_pad_id():
    preprocessor = _preprocessor(tokenizer=_tokenizer(None))
    inputs, labels = preprocessor(_examples())
    assert inputs["token_ids"].shape == (3, LENGTH)
    np.testing.assert_array_equal(labels[1], [6, 3, 0, 0, 0, 0])


def test_maps_over_a_dataset_of_raw_examples_with_extra_keys():
    examples = _examples() | {"scene": np.zeros((3, 6, 5), "int32")}
    ds = tf.data.Dataset.from_tensor_slices(examples).batch(2)
    inputs, labels = next(iter(ds.map(_preprocessor())))
    assert set(inputs) == {"image", "token_ids"}
    assert labels.shape == (2, LENGTH)


def test_sequence_length_defaults_from_the_tokenizer():
    preprocessor = CaptionerPreprocessor(tokenizer=_tokenizer(9))
    assert preprocessor.sequence_length == 8


def test_config_round_trips():
    preprocessor = _preprocessor()
    config = preprocessor.get_config()
    copy = CaptionerPreprocessor.from_config(config)
    assert copy.get_config() == config
    assert copy.image_converter.image_size == (8, 8)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(preprocessor)
    )
    assert type(restored) is CaptionerPreprocessor
    assert restored.sequence_length == LENGTH


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sequence_length": 0}, "sequence_length=0"),
        ({"sequence_length": 4}, "tokenizer.sequence_length=7"),
        (
            {
                "tokenizer": mmkeras.text.WordPieceTokenizer(
                    WORDS, sequence_length=LENGTH + 1
                )
            },
            "add_start_end=True",
        ),
        (
            {"tokenizer": _tokenizer(None), "sequence_length": None},
            "sequence_length is required",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _preprocessor(**kwargs)


def test_bad_inputs_are_named():
    preprocessor = _preprocessor()
    with pytest.raises(ValueError, match=r"Received: a dict with keys \['x'\]"):
        preprocessor({"x": 1})
    with pytest.raises(ValueError, match="y must be None"):
        preprocessor(_examples(), np.zeros(3))
    with pytest.raises(ValueError, match="float images must be in"):
        preprocessor({"image": np.full((1, 8, 8, 3), 255.0, "float32")})
    without = _preprocessor(tokenizer=None)
    with pytest.raises(ValueError, match="tokenizer=None"):
        without(_examples())
