import numpy as np

from mmkeras.layers import CoAttentionFusionHead
from mmkeras.layers.fusion._fusion_head import masked_mean
from mmkeras.testing import run_layer_test
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import HEAD_ARGS
from tests.layers.fusion.cases import TEXT_MASK


def test_basics():
    run_layer_test(
        CoAttentionFusionHead, **FUSION_CASES["CoAttentionFusionHead"]
    )


def test_the_output_is_both_streams_mean_pooled():
    head = CoAttentionFusionHead(hidden_dim=16, num_heads=2, xla=False)
    output = np.asarray(head(*HEAD_ARGS))
    image, question, *_ = HEAD_ARGS
    image, question = head.co_attention(
        head.image_projection(image),
        head.question_projection(question),
        y_mask=TEXT_MASK,
    )
    np.testing.assert_allclose(output[:, :16], np.mean(image, 1), atol=1e-5)
    expected = masked_mean(question, TEXT_MASK)
    np.testing.assert_allclose(output[:, 16:], expected, atol=1e-5)
    # The last example has one real token: its mean is that token.
    np.testing.assert_allclose(output[2, 16:], question[2, 0], atol=1e-5)


def test_xla_and_plain_paths_agree():
    xla = CoAttentionFusionHead(hidden_dim=16, num_heads=2, xla=True)
    plain = CoAttentionFusionHead(hidden_dim=16, num_heads=2, xla=False)
    expected = xla(*HEAD_ARGS)
    plain(*HEAD_ARGS)
    plain.set_weights(xla.get_weights())
    np.testing.assert_allclose(plain(*HEAD_ARGS), expected, atol=1e-5)
