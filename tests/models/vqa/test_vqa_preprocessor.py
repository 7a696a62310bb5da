import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.models.vqa import VQAPreprocessor


@pytest.fixture(scope="module")
def scenes():
    return mmkeras.data.sort_of_clevr(2, seed=0, batch_size=40)


def _tokenizer(questions):
    return mmkeras.text.WordPieceTokenizer(
        mmkeras.text.build_vocabulary(questions, 60), sequence_length=24
    )


def test_maps_sort_of_clevr_questions_to_ids(scenes):
    raw = next(iter(scenes))
    questions = [q.decode() for q in raw["question"].numpy()]
    tokenizer = _tokenizer(questions)
    preprocessor = VQAPreprocessor(
        mmkeras.layers.ImageConverter(image_size=(75, 75)), tokenizer
    )
    inputs, labels = next(iter(scenes.map(preprocessor)))
    assert sorted(inputs) == ["image", "question_ids"]
    assert inputs["image"].dtype == tf.float32
    assert inputs["image"].shape == (40, 75, 75, 3)
    expected = tf.cast(raw["image"], tf.float32)
    if raw["image"].dtype == tf.uint8:
        expected = expected / 255.0
    np.testing.assert_allclose(inputs["image"], expected, atol=1e-6)
    ids = inputs["question_ids"].numpy()
    assert ids.shape == (40, 24) and ids.dtype == np.int32
    assert tokenizer.unknown_token_id not in ids
    text = tokenizer.detokenize(ids[:1]).numpy()[0].decode()
    assert text == questions[0].replace("?", " ?")
    np.testing.assert_array_equal(labels, raw["answer_id"])


def test_passes_the_question_encoding_through(scenes):
    raw = next(iter(scenes))
    preprocessor = VQAPreprocessor(question_input="encoding")
    inputs, labels = preprocessor(raw)
    assert sorted(inputs) == ["image", "question_encoding"]
    np.testing.assert_array_equal(
        inputs["question_encoding"], raw["question_encoding"]
    )
    assert inputs["question_encoding"].dtype == tf.float32
    np.testing.assert_array_equal(labels, raw["answer_id"])


def test_uint8_and_unit_float_images_give_the_same_pixels():
    tokenizer = _tokenizer(["what shape is it"] * 4)
    preprocessor = VQAPreprocessor(
        mmkeras.layers.ImageConverter(image_size=(8, 8)), tokenizer
    )
    pixels = np.random.default_rng(0).integers(0, 256, (2, 12, 12, 3))
    question = ["what shape", "is it"]
    from_uint8 = preprocessor(
        {"image": pixels.astype("uint8"), "question": question}
    )
    from_float = preprocessor(
        {"image": (pixels / 255.0).astype("float32"), "question": question}
    )
    np.testing.assert_allclose(
        from_uint8["image"], from_float["image"], atol=1e-5
    )
    assert from_uint8["image"].shape == (2, 8, 8, 3)


def test_a_given_label_wins_and_no_label_gives_inputs_only():
    preprocessor = VQAPreprocessor(question_input="encoding")
    example = {
        "image": np.zeros((2, 4, 4, 3), "uint8"),
        "question_encoding": np.zeros((2, 11), "float32"),
        "answer_id": np.array([1, 2]),
    }
    _, label, weight = preprocessor(example, np.array([3, 4]), np.ones(2))
    np.testing.assert_array_equal(label, [3, 4])
    np.testing.assert_array_equal(weight, [1.0, 1.0])
    inputs = preprocessor(
        {k: v for k, v in example.items() if k != "answer_id"}
    )
    assert sorted(inputs) == ["image", "question_encoding"]


def test_round_trips_through_its_config():
    tokenizer = _tokenizer(["what shape is it"] * 4)
    preprocessor = VQAPreprocessor(
        mmkeras.layers.ImageConverter(image_size=(8, 8), scale=2.0), tokenizer
    )
    config = preprocessor.get_config()
    clone = VQAPreprocessor.from_config(config)
    assert clone.get_config() == config
    assert keras.saving.get_registered_name(VQAPreprocessor) == (
        "mmkeras>VQAPreprocessor"
    )
    example = {"image": np.ones((1, 8, 8, 3), "uint8"), "question": ["what"]}
    np.testing.assert_array_equal(
        clone(example)["question_ids"], preprocessor(example)["question_ids"]
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(), "question_input='tokens' needs a tokenizer"),
        (
            dict(tokenizer="tokenizer", question_input="encoding"),
            "question_input='encoding' needs no tokenizer",
        ),
        (dict(question_input="text"), "question_input='text'"),
    ],
)
def test_bad_arguments(kwargs, message):
    if kwargs.get("tokenizer") == "tokenizer":
        kwargs["tokenizer"] = _tokenizer(["what"] * 4)
    with pytest.raises(ValueError, match=message) as error:
        VQAPreprocessor(**kwargs)
    assert "Received" in str(error.value)
