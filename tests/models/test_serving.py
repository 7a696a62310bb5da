"""`mmkeras.models.serving.predict`, what `mmkeras predict` prints, for
the zoo's pretrained encoders (the families: tests/export/test_export.py,
which shares their exported models)."""

import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.models import serving as serving_lib
from mmkeras.models.serving import RequestError
from mmkeras.models.tower_serving import TextTowerServing
from mmkeras.testing import tiny_models as tiny


@pytest.fixture(scope="module")
def chelsea(tmp_path_factory):
    import skimage.data

    path = tmp_path_factory.mktemp("images") / "chelsea.png"
    path.write_bytes(tf.io.encode_png(skimage.data.chelsea()).numpy())
    return str(path)


@pytest.fixture(scope="module")
def imagenet():
    return mmkeras.zoo.load("efficientnet_lite0.imagenet")


def test_the_imagenet_classifier_names_its_top_classes(chelsea, imagenet):
    (result,) = serving_lib.predict(imagenet, [chelsea])
    top = result["top5"]
    assert result["image"] == chelsea
    assert top[0]["index"] == 285 and top[0]["class"] == "Egyptian_cat"
    # The entry's golden probability of the same photo, resized the same.
    metrics = mmkeras.zoo.info("efficientnet_lite0.imagenet")["metrics"]
    assert top[0]["probability"] == pytest.approx(
        metrics["golden_probability_chelsea"], abs=1e-4
    )
    probabilities = [c["probability"] for c in top]
    assert probabilities == sorted(probabilities, reverse=True)
    assert [c["class"] for c in top[1:3]] == ["tiger_cat", "tabby"]
    with pytest.raises(RequestError, match="takes no question"):
        serving_lib.predict(imagenet, [chelsea], question="what")
    with pytest.raises(RequestError, match="takes images: give --image"):
        serving_lib.predict(imagenet, [])


def test_classes_are_numbered_without_names(chelsea, imagenet, monkeypatch):
    monkeypatch.delattr(imagenet, "class_names")
    (result,) = serving_lib.predict(imagenet, [chelsea])
    assert [c["index"] for c in result["top5"][:3]] == [285, 282, 281]
    assert "class" not in result["top5"][0]


def test_a_text_encoder_gives_embeddings_and_cosines():
    encoder = mmkeras.encoders.BertTextEncoder.from_preset(
        "tiny", vocabulary_size=len(tiny.WORDS) + 5
    )
    tokenizer = tiny.tokenizer()
    tower = TextTowerServing(encoder, tokenizer)
    texts = ["the red circle", "what colour is the circle"]
    results = tower.predict(texts=texts)
    pooled = encoder(tokenizer(texts))["pooled"].numpy()
    unit = pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)
    for result, text, vector, row in zip(
        results, texts, pooled, unit, strict=True
    ):
        assert result["text"] == text
        assert result["dimension"] == 64
        assert result["norm"] == pytest.approx(np.linalg.norm(vector), 1e-5)
        np.testing.assert_allclose(
            result["normalized_head"], row[:5], atol=1e-6
        )
    np.testing.assert_allclose(
        [r["cosine"] for r in results], unit @ unit.T, atol=1e-5
    )
    with pytest.raises(RequestError, match="takes no images"):
        tower.predict(["scene.png"], texts=texts)
    with pytest.raises(RequestError, match="give one or more with --text"):
        tower.predict()


def test_a_text_encoder_without_a_vocabulary_says_how_to_load_one():
    encoder = mmkeras.encoders.BertTextEncoder.from_preset("tiny")
    with pytest.raises(RequestError, match="load it by its zoo name"):
        serving_lib.predict(encoder, texts=["a red circle"])


def test_other_layers_are_refused():
    import keras

    with pytest.raises(RequestError, match="Received: a Dense"):
        serving_lib.predict(keras.layers.Dense(2), ["scene.png"])
