import re

import numpy as np
import pytest

from mmkeras.layers.fusion.concat_fusion import ConcatFusion
from mmkeras.testing import run_layer_test
from tests.layers.fusion.cases import AUDIO
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import IMAGE
from tests.layers.fusion.cases import TEXT
from tests.layers.fusion.cases import TEXT_TOKENS


def test_basics():
    run_layer_test(ConcatFusion, **FUSION_CASES["ConcatFusion"])


def test_basics_token_inputs_without_projection():
    run_layer_test(
        ConcatFusion,
        init_kwargs=dict(dropout=0.1),
        args=([TEXT_TOKENS, TEXT_TOKENS[..., :4]],),
        expected_output_shape=(3, 5, 20),
        expected_num_trainable_weights=0,
        run_training_step=False,
    )


def test_without_projection_equals_numpy_concatenation():
    output = ConcatFusion()([IMAGE, TEXT, AUDIO])
    np.testing.assert_array_equal(
        output, np.concatenate([IMAGE, TEXT, AUDIO], axis=-1)
    )


def test_projection_applies_dense_and_activation():
    layer = ConcatFusion(projection_dim=12, activation="relu")
    output = layer([IMAGE, TEXT])
    kernel, bias = (w.numpy() for w in layer.projection.weights)
    expected = np.maximum(np.concatenate([IMAGE, TEXT], -1) @ kernel + bias, 0)
    np.testing.assert_allclose(output, expected, atol=1e-5)


def test_compute_output_shape():
    layer = ConcatFusion(projection_dim=12)
    assert layer.compute_output_shape([(None, 24), (None, 16)]) == (None, 12)
    assert ConcatFusion().compute_output_shape([(2, 3), (2, 4)]) == (2, 7)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(projection_dim=0), "projection_dim=0"),
        (dict(dropout=1.5), "dropout=1.5"),
        (dict(activation="relu"), "activation='relu', projection_dim=None"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ConcatFusion(**kwargs)


@pytest.mark.parametrize(
    "inputs, message",
    [
        ([IMAGE], "at least 2 tensors. Received: 1 tensors with shapes "),
        (IMAGE, "a single tensor of shape (3, 24)"),
        ([IMAGE, TEXT_TOKENS], "[(3, 24), (3, 5, 16)]"),
        ([TEXT_TOKENS, TEXT_TOKENS[:, :2]], "[(3, 5, 16), (3, 2, 16)]"),
        ([IMAGE[:, None, None], TEXT[:, None, None]], "rank 2 or 3"),
    ],
)
def test_bad_inputs_raise(inputs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ConcatFusion()(inputs)
