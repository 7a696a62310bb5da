import numpy as np
import pytest

from mmkeras.layers import CoAttention
from mmkeras.testing import run_layer_test
from tests.layers.cases import CASES

rng = np.random.default_rng(4)


def _floats(*shape):
    return rng.standard_normal(shape).astype("float32")


def test_basics():
    run_layer_test(CoAttention, **CASES["CoAttention"])


def test_without_self_attention():
    run_layer_test(
        CoAttention,
        init_kwargs=dict(num_heads=2, intermediate_dim=16),
        args=(_floats(2, 4, 8), _floats(2, 3, 12)),
        expected_output_shape=((2, 4, 8), (2, 3, 12)),
        expected_num_trainable_weights=32,
        run_mixed_precision=False,
    )


def test_padded_tokens_never_change_real_outputs():
    layer = CoAttention(num_heads=2, intermediate_dim=16, self_attention=True)
    image, text = _floats(2, 4, 8), _floats(2, 5, 12)
    text_mask = np.arange(5)[None] < np.array([[5], [2]])
    image_before, text_before = layer(image, text, y_mask=text_mask)
    noisy = np.where(text_mask[..., None], text, 30.0)
    image_after, text_after = layer(image, noisy, y_mask=text_mask)
    np.testing.assert_allclose(image_after, image_before, atol=1e-5)
    np.testing.assert_allclose(
        text_after[1, :2], np.asarray(text_before)[1, :2], atol=1e-5
    )


def test_each_stream_sees_the_other():
    layer = CoAttention(num_heads=2, intermediate_dim=16)
    image, text = _floats(1, 4, 8), _floats(1, 3, 8)
    image_before, text_before = layer(image, text)
    image_after, text_after = layer(image, text + 1.0)
    assert not np.allclose(image_after, image_before)
    assert not np.allclose(text_after, text_before)


def test_heads_must_divide_both_feature_sizes():
    layer = CoAttention(num_heads=4, intermediate_dim=16)
    with pytest.raises(ValueError, match="features=6, num_heads=4"):
        layer(_floats(1, 2, 8), _floats(1, 2, 6))


def test_attention_scores_are_each_streams_weights_over_the_other():
    layer = CoAttention(num_heads=2, intermediate_dim=16, self_attention=True)
    image, text = _floats(2, 4, 8), _floats(2, 5, 12)
    text_mask = np.arange(5)[None] < np.array([[5], [2]])
    image_out, text_out = layer(image, text, y_mask=text_mask)
    *outputs, image_scores, text_scores = layer(
        image, text, y_mask=text_mask, return_attention_scores=True
    )
    np.testing.assert_allclose(outputs[0], image_out, atol=1e-6)
    np.testing.assert_allclose(outputs[1], text_out, atol=1e-6)
    assert image_scores.shape == (2, 2, 4, 5)
    assert text_scores.shape == (2, 2, 5, 4)
    np.testing.assert_allclose(np.sum(image_scores, -1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.sum(text_scores, -1), 1.0, atol=1e-5)
    # Padded words get none of the image's attention.
    np.testing.assert_allclose(np.asarray(image_scores)[1, :, :, 2:], 0.0)
