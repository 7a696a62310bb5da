import re

import keras
import numpy as np
import pytest

from mmkeras.layers.fusion.attention_fusion import AttentionFusion
from mmkeras.testing import run_layer_test
from tests.layers.fusion.cases import AUDIO
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import IMAGE
from tests.layers.fusion.cases import TEXT
from tests.layers.fusion.cases import TEXT_MASK
from tests.layers.fusion.cases import TEXT_TOKENS


def test_basics():
    run_layer_test(AttentionFusion, **FUSION_CASES["AttentionFusion"])


def test_basics_plain_path_single_token_inputs():
    run_layer_test(
        AttentionFusion,
        init_kwargs=dict(num_heads=4, hidden_dim=8, xla=False),
        args=([IMAGE, TEXT, AUDIO],),
        expected_output_shape=(3, 8),
        expected_num_trainable_weights=16,
    )


def _fuse(layer, text_tokens, mask=(None, TEXT_MASK), **kwargs):
    return layer([IMAGE, text_tokens], mask=list(mask), **kwargs)


def test_padded_tokens_do_not_change_the_output():
    layer = AttentionFusion(num_heads=2, hidden_dim=16)
    before = _fuse(layer, TEXT_TOKENS).numpy()
    changed = np.where(TEXT_MASK[..., None], TEXT_TOKENS, 100.0)
    np.testing.assert_allclose(_fuse(layer, changed), before, atol=1e-6)
    # Without the mask the same change does show: the test can fail.
    unmasked = _fuse(layer, changed, mask=(None, None)).numpy()
    assert np.abs(unmasked[1:] - before[1:]).max() > 1e-3


def test_attention_scores_sum_to_one_and_skip_padding():
    layer = AttentionFusion(num_heads=2, hidden_dim=16)
    _, scores = _fuse(layer, TEXT_TOKENS, return_attention_scores=True)
    assert scores.shape == (3, 2, 6)
    np.testing.assert_allclose(np.sum(scores, axis=-1), 1.0, atol=1e-6)
    # Token 0 is the image; tokens 1..5 the text, padded where the mask is.
    padded = ~TEXT_MASK[:, None, :].repeat(2, axis=1)
    np.testing.assert_array_equal(np.asarray(scores)[:, :, 1:][padded], 0.0)


def test_xla_and_plain_paths_agree():
    xla_layer = AttentionFusion(num_heads=2, hidden_dim=16, xla=True)
    plain_layer = AttentionFusion(num_heads=2, hidden_dim=16, xla=False)
    expected = _fuse(xla_layer, TEXT_TOKENS)
    _fuse(plain_layer, TEXT_TOKENS)
    plain_layer.set_weights(xla_layer.get_weights())
    np.testing.assert_allclose(
        _fuse(plain_layer, TEXT_TOKENS), expected, atol=1e-5
    )


def test_scores_in_a_functional_model():
    layer = AttentionFusion(num_heads=2, hidden_dim=16)
    inputs = [keras.Input((24,)), keras.Input((5, 16))]
    mask = keras.Input((5,), dtype="bool")
    output, scores = layer(
        inputs, mask=[None, mask], return_attention_scores=True
    )
    assert (output.shape, scores.shape) == ((None, 16), (None, 2, 6))
    model = keras.Model([*inputs, mask], [output, scores])
    actual = model([IMAGE, TEXT_TOKENS, TEXT_MASK])
    expected = _fuse(layer, TEXT_TOKENS, return_attention_scores=True)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, atol=1e-6)


def test_uses_masks_keras_attached_to_the_inputs():
    layer = AttentionFusion(num_heads=2, hidden_dim=16)
    ids = np.where(TEXT_MASK, np.arange(1, 6), 0)
    image, text_ids = keras.Input((24,)), keras.Input((5,), dtype="int32")
    embedding = keras.layers.Embedding(10, 16, mask_zero=True)
    text = embedding(text_ids)
    model = keras.Model([image, text_ids], layer([image, text]))
    tokens = embedding(ids).numpy()
    np.testing.assert_allclose(
        model([IMAGE, ids]), _fuse(layer, tokens), atol=1e-6
    )
    unmasked = _fuse(layer, tokens, mask=(None, None))
    assert np.abs(model([IMAGE, ids]) - unmasked).max() > 1e-4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_heads=0, hidden_dim=16), "num_heads=0"),
        (dict(num_heads=3, hidden_dim=16), "hidden_dim=16, num_heads=3"),
        (dict(num_heads=2, hidden_dim=16, dropout=1.0), "dropout=1.0"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        AttentionFusion(**kwargs)


@pytest.mark.parametrize(
    "inputs, mask, message",
    [
        ([IMAGE], None, "at least 2 tensors. Received: 1 tensors"),
        ([IMAGE, TEXT_TOKENS[:, None]], None, "(3, 1, 5, 16)"),
        ([IMAGE, TEXT_TOKENS], [TEXT_MASK], "1 masks for 2 inputs"),
        ([IMAGE, TEXT_TOKENS], TEXT_MASK, "one mask of shape (3, 5) for 2"),
        (
            [IMAGE, TEXT_TOKENS],
            [None, TEXT_MASK[:, :3]],
            "shape. Received: mask and input[:-1] with shapes [(3, 3), (3, 5)]",
        ),
    ],
)
def test_bad_inputs_raise(inputs, mask, message):
    layer = AttentionFusion(num_heads=2, hidden_dim=16)
    with pytest.raises(ValueError, match=re.escape(message)):
        layer(inputs, mask=mask)
