import numpy as np
import pytest
import tensorflow as tf

from mmkeras.models.dual_encoder import DualEncoderServing
from mmkeras.models.serving import RequestError
from mmkeras.testing import tiny_models as tiny


@pytest.fixture(scope="module")
def model():
    return tiny.model("dual_encoder")


def _png(seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (30, 20, 3), "uint8")
    return tf.io.encode_png(pixels).numpy()


def test_score_is_the_cosine_of_every_image_and_text(model):
    serving = model.serving()
    assert isinstance(serving, DualEncoderServing)
    images = [_png(0), _png(1)]
    texts = ["the red circle", "what colour", "blue"]
    inputs = serving.request(images, texts=texts)
    assert list(inputs) == ["image_bytes", "text"]
    scores = serving.functions()["score"](*inputs.values())["scores"]
    pixels = serving.decode(tf.constant(images))
    expected = model.score(pixels, model.tokenizer(texts))
    assert scores.shape == (2, 3)
    np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_a_request_needs_texts(model):
    with pytest.raises(RequestError, match="give the candidate texts"):
        model.serving().request([_png(0)])


def test_serving_refuses_a_sampler(model):
    with pytest.raises(
        RequestError, match=r"DualEncoder takes no sampler \(--sampler\)"
    ):
        model.serving(sampler="beam")
