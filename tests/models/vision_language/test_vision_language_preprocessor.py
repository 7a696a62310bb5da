"""VisionLanguagePreprocessor: the placeholder's image ids, labels on the
answer only, the chat template split, and what bad input gets."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from mmkeras.layers import ImageConverter
from mmkeras.models.causal_lm import builders as causal_lm_builders
from mmkeras.models.vision_language import VisionLanguagePreprocessor

IMAGE_ID = 0
END = "<|im_end|>"


@pytest.fixture(scope="module")
def tokenizer():
    return causal_lm_builders.word_tokenizer(causal_lm_builders.TINY_WORDS)


def _preprocessor(tokenizer, **kwargs):
    arguments = dict(
        image_converter=ImageConverter(image_size=(32, 32)),
        tokenizer=tokenizer,
        image_token_id=IMAGE_ID,
        num_image_tokens=3,
        sequence_length=40,
        chat_template=causal_lm_builders.CHAT_TEMPLATE,
    )
    return VisionLanguagePreprocessor(**{**arguments, **kwargs})


def _ids(tokenizer, text):
    return np.asarray(tokenizer([text])[0]).tolist()


def _png(size):
    data = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), 90, np.uint8)).save(data, "PNG")
    return data.getvalue()


def test_basics(tokenizer):
    preprocessor = _preprocessor(tokenizer)
    end = tokenizer.token_to_id(END)
    assert preprocessor.end_token_id == end  # from the template
    ids = preprocessor.tokenize(tf.constant(["sky<image>blue", "paris"]))
    assert ids[0].numpy().tolist() == (
        _ids(tokenizer, "sky") + [IMAGE_ID] * 3 + _ids(tokenizer, "blue")
    )
    assert ids[1].numpy().tolist() == _ids(tokenizer, "paris")
    images = tf.constant(np.full((2, 48, 40, 3), 255, np.uint8))
    inputs, labels, weights = preprocessor(
        {
            "image": images,
            "prompt": tf.constant(["<image>\nthe sky is", "is <image> paris"]),
            "answer": tf.constant(["blue", "the capital of france"]),
            "source": tf.constant(["emoji", "shapes"]),
        }
    )
    assert sorted(inputs) == ["image", "padding_mask", "token_ids"]
    np.testing.assert_allclose(inputs["image"], np.ones((2, 32, 32, 3)), 1e-6)
    expected = (
        _ids(tokenizer, "<|im_start|>user\n")
        + [IMAGE_ID] * 3
        + _ids(tokenizer, "\nthe sky is" + END + "\n<|im_start|>assistant\n")
    )
    answer = _ids(tokenizer, "blue") + [end]
    row = expected + answer
    count = len(row) - 1
    assert inputs["token_ids"][0, :count].numpy().tolist() == row[:-1]
    assert labels[0, :count].numpy().tolist() == row[1:]
    # Weighted: the answer's tokens and its end token, nothing else.
    taught = [0.0] * (len(expected) - 1) + [1.0] * len(answer)
    assert weights[0].numpy().tolist() == taught + [0.0] * (40 - count)
    # The end token is an input too (its label is padding, weighted 0).
    assert inputs["padding_mask"][0].numpy().tolist() == (
        [1] * (count + 1) + [0] * (40 - count - 1)
    )


def test_generate_inputs_left_pad_and_take_bytes(tokenizer):
    preprocessor = _preprocessor(tokenizer)
    pixels = np.zeros((20, 24, 3), np.uint8)
    inputs = preprocessor.generate_inputs(
        [pixels, _png(20), None], ["<image> sky", "is <image>", "paris"]
    )
    assert inputs["image"].shape == (3, 32, 32, 3)
    np.testing.assert_allclose(inputs["image"][1], 90 / 255, atol=1e-6)
    np.testing.assert_array_equal(inputs["image"][2], 0.0)
    ids = inputs["token_ids"].numpy()
    mask = inputs["padding_mask"].numpy()
    assert ids.shape == (3, 16) and mask[:, -1].all()
    assert ids[0][mask[0]].tolist() == [IMAGE_ID] * 3 + _ids(tokenizer, " sky")
    assert (ids[2][mask[2]] != IMAGE_ID).all()


@pytest.mark.parametrize(
    "images, prompts, error, match",
    [
        ([np.zeros((20, 20, 3), "uint8")], ["sky"], ValueError, "but no "),
        ([None], ["<image> sky"], ValueError, "no image was given"),
        (
            [np.zeros((20, 20, 3), "uint8")],
            ["<image> sky <image>"],
            ValueError,
            "but 2 <image>",
        ),
        (
            [np.zeros((20, 20, 3), "uint8")] * 2,
            ["<image> sky"],
            ValueError,
            "1 prompt\\(s\\) and 2 image",
        ),
        ([np.zeros((8, 30, 3), "uint8")], ["<image>?"], ValueError, "30x8"),
        ([b"\x89PNG broken"], ["<image>?"], ValueError, "not a readable"),
        ([np.zeros((20, 20, 3), "uint8")], ["<image>  "], ValueError, "empty"),
        ([None], [""], ValueError, "prompt 0 is empty"),
        ([np.full((20, 20, 3), 3.0)], ["<image>?"], ValueError, "\\[0, 1\\]"),
        (None, [3], TypeError, "prompts must be a string"),
    ],
)
def test_bad_generation_input_is_named(
    tokenizer, images, prompts, error, match
):
    with pytest.raises(error, match=match):
        _preprocessor(tokenizer).generate_inputs(images, prompts)


def test_bad_training_input_is_named(tokenizer):
    preprocessor = _preprocessor(tokenizer)
    example = {
        "image": tf.zeros((1, 32, 32, 3), tf.uint8),
        "prompt": tf.constant(["the sky is"]),
        "answer": tf.constant(["blue"]),
    }
    with pytest.raises(ValueError, match="must hold <image> once"):
        preprocessor(example)
    with pytest.raises(ValueError, match="a training prompt is empty"):
        preprocessor({**example, "prompt": tf.constant(["<image> "])})
    long = tf.constant(["<image>" + " sky" * 40])
    with pytest.raises(ValueError, match="leaves no room for its answer"):
        preprocessor({**example, "prompt": long})
    small = {
        **example,
        "image": tf.zeros((1, 8, 8, 3), tf.uint8),
        "prompt": tf.constant(["<image> sky"]),
    }
    with pytest.raises(ValueError, match="at least 16x16 pixels"):
        preprocessor(small)
    with pytest.raises(ValueError, match="'image', 'prompt' and 'answer'"):
        preprocessor({"prompt": example["prompt"]})
    # In a tf.data pipeline the same checks fail the pipeline, named.
    data = tf.data.Dataset.from_tensors(example).map(preprocessor)
    with pytest.raises(tf.errors.InvalidArgumentError, match="once, where"):
        next(iter(data))


def test_bad_arguments_are_named(tokenizer):
    with pytest.raises(ValueError, match="fixed image_size"):
        _preprocessor(tokenizer, image_converter=ImageConverter())
    with pytest.raises(ValueError, match="image_token_id must be"):
        _preprocessor(tokenizer, image_token_id=None)
    with pytest.raises(ValueError, match="needs|give chat_template"):
        _preprocessor(tokenizer, chat_template=None)
    odd = "{{ messages[0]['content'] | upper }}"
    with pytest.raises(ValueError, match="chat_template must write a user"):
        _preprocessor(tokenizer, chat_template=odd)


def test_config_round_trip(tokenizer):
    preprocessor = _preprocessor(tokenizer)
    again = VisionLanguagePreprocessor.from_config(preprocessor.get_config())
    assert again.get_config() == preprocessor.get_config()
    assert again.image_converter.image_size == (32, 32)
    text = tf.constant(["<image> sky"])
    np.testing.assert_array_equal(
        again.tokenize(text).to_tensor(),
        preprocessor.tokenize(text).to_tensor(),
    )
