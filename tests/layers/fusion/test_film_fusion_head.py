import numpy as np
import pytest

from mmkeras.layers import FiLMFusionHead
from mmkeras.testing import run_layer_test
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import HEAD_ARGS
from tests.layers.fusion.cases import IMAGE_TOKENS
from tests.layers.fusion.cases import TEXT_MASK
from tests.layers.fusion.cases import TEXT_TOKENS


def test_basics():
    run_layer_test(FiLMFusionHead, **FUSION_CASES["FiLMFusionHead"])


def test_blocks_dilate_to_see_the_whole_grid():
    head = FiLMFusionHead(hidden_dim=16, num_layers=5)
    head.build((None, 19 * 19, 8), (None, 1, 16), (None, 1), (None, 16))
    dilations = [conv.dilation_rate[0] for _, conv, _, _ in head.blocks]
    # A 3x3 conv dilated by d reaches d cells away; 1+2+4+8 covers 19.
    assert dilations == [1, 2, 4, 8, 9]


def test_the_question_steers_the_features_before_pooling():
    """Two pooled questions over one image give different fused vectors
    although the pooled question never reaches the output directly."""
    head = FiLMFusionHead(hidden_dim=16)
    first, second = (
        head(IMAGE_TOKENS, TEXT_TOKENS, TEXT_MASK, pooled)
        for pooled in np.random.default_rng(1).standard_normal((2, 3, 16))
    )
    assert not np.allclose(first, second, atol=1e-4)


def test_the_output_is_a_max_pool_of_relus():
    output = np.asarray(FiLMFusionHead(hidden_dim=16)(*HEAD_ARGS))
    assert np.all(output >= 0.0) and np.any(output > 0.0)


def test_it_needs_a_square_grid_of_image_tokens():
    head = FiLMFusionHead(hidden_dim=16)
    with pytest.raises(ValueError, match="square grid.*Received: 5 image"):
        head.build((None, 5, 8), (None, 1, 16), (None, 1), (None, 16))
