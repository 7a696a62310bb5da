import numpy as np
import pytest
import tensorflow as tf

from mmkeras.models.fusion import FusionServing
from mmkeras.models.serving import RequestError
from mmkeras.testing import tiny_models as tiny


@pytest.fixture(scope="module")
def model():
    return tiny.model("fusion")


def _png(seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (30, 20, 3), "uint8")
    return tf.io.encode_png(pixels).numpy()


def test_classify_gives_the_class_of_the_preprocessed_pair(model):
    serving = model.serving()
    assert isinstance(serving, FusionServing)
    images = [_png(0), _png(1)]
    texts = ["the red circle", "what colour"]
    inputs = serving.request(images, texts=texts)
    assert list(inputs) == ["image_bytes", "text"]
    outputs = serving.functions()["classify"](*inputs.values())
    pixels = serving.decode(tf.constant(images))
    logits = model({"image": pixels, "token_ids": model.tokenizer(texts)})
    probabilities = tf.nn.softmax(logits).numpy()
    np.testing.assert_allclose(outputs["probabilities"], probabilities, 1e-5)
    names = [model.class_names[i] for i in probabilities.argmax(-1)]
    assert [n.decode() for n in outputs["label"].numpy()] == names


@pytest.mark.parametrize("texts", [(), ("one",), ("one", "two", "three")])
def test_a_request_needs_one_text_per_image(model, texts):
    with pytest.raises(RequestError, match="give one --text per --image"):
        model.serving().request([_png(0), _png(1)], texts=texts)


def test_the_onnx_config_has_the_converter_tokenizer_and_labels(model):
    serving = model.serving()
    config = serving.onnx_config()
    assert config["image_size"] == [24, 24]
    assert config["image_scale"] == 1.0 and config["image_offset"] == 0.0
    assert config["tokenizer"] == {
        "vocabulary": "vocabulary.txt",
        "sequence_length": tiny.TEXT_LENGTH,
        "lowercase": True,
        "add_start_end": False,
        "suffix_indicator": "##",
        "unknown_token": "[UNK]",
        "pad_token_id": 0,
        "start_token_id": 2,
        "end_token_id": 3,
    }
    assert config["request"]["scores"] == {"probabilities": "all"}
    assert config["request"]["text_flag"] == "text"
    assert serving.onnx_files()["labels.txt"] == list(model.class_names)
