"""The fusion builders a config names (`mmkeras.models.fusion.builders`)."""

import numpy as np
import tensorflow as tf

import mmkeras
from mmkeras.data.color_match import VOCABULARY
from mmkeras.data.shapes import COLORS
from mmkeras.models.builders import MODEL_BUILDERS
from mmkeras.models.fusion import builders


def test_the_color_match_preprocessor_gives_model_inputs():
    dataset = mmkeras.data.color_match(8, seed=0, batch_size=4)
    preprocessor = builders.color_match_preprocessor()
    inputs, labels = next(iter(dataset.map(preprocessor)))
    raw = mmkeras.data.color_match_arrays(8, seed=0)
    assert inputs["token_ids"].dtype == tf.int32
    assert inputs["token_ids"].shape == (4, builders.COLOR_MATCH_TEXT_LENGTH)
    np.testing.assert_allclose(inputs["image"], raw["image"][:4] / 255.0)
    np.testing.assert_array_equal(labels, raw["label"][:4])
    token_ids = inputs["token_ids"].numpy()
    for ids, color in zip(token_ids, raw["text_color"][:4], strict=True):
        words = [VOCABULARY[i] for i in ids if i]
        assert COLORS[color] in words


def test_the_registered_builder_compiles_the_named_fusion():
    model = MODEL_BUILDERS.call(
        {"name": "color_match_fusion", "kwargs": {"fusion": "gated"}},
        hidden_dim=16,
    )
    assert type(model).__name__ == "FusionClassifier"
    assert model.fusion == "gated" and model.hidden_dim == 16
    assert model.compiled and model.class_names == ["different", "same"]
    raw = mmkeras.data.color_match_arrays(4, seed=0)
    probabilities = model.predict(raw, verbose=0)
    assert probabilities.shape == (4, 2)
