import numpy as np

from mmkeras.layers import AttentionFusionHead
from mmkeras.testing import run_layer_test
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import HEAD_ARGS
from tests.layers.fusion.cases import IMAGE_TOKENS
from tests.layers.fusion.cases import TEXT_MASK
from tests.layers.fusion.cases import TEXT_TOKENS


def test_basics():
    run_layer_test(AttentionFusionHead, **FUSION_CASES["AttentionFusionHead"])


def test_it_is_the_attention_fusion_of_both_token_sets():
    head = AttentionFusionHead(hidden_dim=16, num_heads=2)
    output = head(*HEAD_ARGS)
    expected = head.fusion([IMAGE_TOKENS, TEXT_TOKENS], mask=[None, TEXT_MASK])
    np.testing.assert_allclose(output, expected, atol=1e-6)


def test_the_image_map_is_the_querys_weights_on_the_image_tokens():
    head = AttentionFusionHead(hidden_dim=16, num_heads=2)
    head(*HEAD_ARGS)
    _, scores = head.fusion(
        [IMAGE_TOKENS, TEXT_TOKENS],
        mask=[None, TEXT_MASK],
        return_attention_scores=True,
    )
    expected = np.mean(np.asarray(scores)[:, :, :9], axis=1)
    np.testing.assert_allclose(head.image_attention(*HEAD_ARGS), expected)
