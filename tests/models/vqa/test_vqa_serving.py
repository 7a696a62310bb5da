import os

import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.models.serving import RequestError
from mmkeras.models.vqa import VQAServing
from mmkeras.testing import run_export_test
from mmkeras.testing import tiny_models as tiny


@pytest.fixture(scope="module")
def model():
    return tiny.model("vqa")


def _png(seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (30, 20, 3), "uint8")
    return tf.io.encode_png(pixels).numpy()


def test_answer_gives_the_answer_to_the_preprocessed_question(model):
    serving = model.serving()
    assert isinstance(serving, VQAServing)
    images = [_png(0), _png(1)]
    inputs = serving.request(images, question="what shape is it")
    assert list(inputs) == ["image_bytes", "question"]
    assert inputs["question"] == ["what shape is it"] * 2
    outputs = serving.functions()["answer"](*inputs.values())
    pixels = serving.decode(tf.constant(images))
    ids = model.tokenizer(["what shape is it"] * 2)
    logits = model({"image": pixels, "question_ids": ids})
    probabilities = tf.nn.softmax(logits).numpy()
    np.testing.assert_allclose(
        outputs["score"], probabilities.max(-1), atol=1e-5
    )
    answers = [model.answers[i] for i in probabilities.argmax(-1)]
    assert [a.decode() for a in outputs["answer"].numpy()] == answers


@pytest.mark.parametrize("question", [None, ""])
def test_a_request_needs_a_question(model, question):
    with pytest.raises(RequestError, match="this model needs --question"):
        model.serving().request([_png(0)], question=question)


def test_without_words_only_the_logits_signature(model):
    serving = tiny.model("vqa", strings=False).serving()
    assert set(serving.functions()) == {"logits"}
    assert serving.onnx_config() == {
        "model": "VQAModel",
        "image_size": [24, 24],
    }
    assert serving.onnx_files() == {}


def test_the_onnx_config_answers_as_the_answer_signature(model):
    serving = model.serving()
    config = serving.onnx_config()
    assert config["image_scale"] == 1.0 and config["image_offset"] == 0.0
    assert config["labels"] == "labels.txt"
    assert config["request"] == {
        "task": "classify",
        "graph": "logits",
        "text_input": "question_ids",
        "text_flag": "question",
        "label_output": "answer",
        "scores": {"score": "max"},
    }
    assert config["tokenizer"]["sequence_length"] == tiny.TEXT_LENGTH
    files = serving.onnx_files()
    assert files["labels.txt"] == tiny.ANSWERS
    assert files["vocabulary.txt"] == model.tokenizer.get_vocabulary()


def test_sort_of_clevr_style_encoded_questions_export(tmp_path):
    model = mmkeras.models.VQAModel(
        mmkeras.encoders.ConvImageEncoder(filters=(8,), hidden_dim=8),
        None,
        num_answers=4,
        question_input="encoding",
        fusion="relation",
        hidden_dim=8,
        num_heads=2,
    )
    model(
        {
            "image": np.zeros((1, 16, 16, 3), "float32"),
            "question_encoding": np.zeros((1, 11), "float32"),
        }
    )
    serving = model.serving()
    (spec_image, spec_encoding) = serving.tensor_inputs()
    assert spec_encoding.dtype == tf.float32 and spec_encoding.shape == (
        None,
        11,
    )
    written = run_export_test(model, tmp_path, "onnx")
    assert os.listdir(written["onnx"]).count("logits.onnx") == 1
