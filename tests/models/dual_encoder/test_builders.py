"""The emoji LiT builder: both towers locked, only the projections and
the temperature train, captions truncated to `sequence_length`."""

import numpy as np
import pytest

from mmkeras.models.dual_encoder import builders


@pytest.fixture(scope="module")
def lit():
    # Random towers: the locking does not depend on the weights.
    return builders.emoji_dual_encoder(
        projection_dim=8, image_size=32, sequence_length=8, pretrained=False
    )


def test_only_the_projections_and_the_temperature_train(lit):
    pairs = {
        "image": np.random.default_rng(0).integers(
            0, 256, (4, 64, 64, 3), dtype="uint8"
        ),
        "caption": ["cat face: cat", "rocket", "hot beverage: coffee", "coin"],
    }
    lit(lit.preprocessor(pairs))  # built, so its weights exist
    towers = [w.numpy().copy() for w in lit.image_encoder.weights] + [
        w.numpy().copy() for w in lit.text_encoder.weights
    ]
    heads = [w.numpy().copy() for w in lit.trainable_weights]
    # One eager step: tracing both towers costs far more than it.
    lit.run_eagerly = True
    lit.fit(pairs, batch_size=4, epochs=1, verbose=0)
    names = sorted(w.path.rsplit("/", 1)[-1] for w in lit.trainable_weights)
    assert names == ["kernel", "kernel", "log_logit_scale"]
    after = [w.numpy() for w in lit.image_encoder.weights] + [
        w.numpy() for w in lit.text_encoder.weights
    ]
    assert all(np.array_equal(a, b) for a, b in zip(towers, after, strict=True))
    assert not any(
        np.array_equal(a, b.numpy())
        for a, b in zip(heads, lit.trainable_weights, strict=True)
    )


def test_long_captions_are_truncated_to_the_sequence_length(lit):
    ids = lit.preprocessor.tokenize(["smiling face with smiling eyes and hand"])
    assert tuple(ids.shape) == (1, 8)
    assert lit.input_shapes()["image"][1:] == (32, 32, 3)
