import numpy as np

from mmkeras.layers import TransformerFusionHead
from mmkeras.testing import run_layer_test
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import HEAD_ARGS
from tests.layers.fusion.cases import IMAGE_TOKENS
from tests.layers.fusion.cases import TEXT
from tests.layers.fusion.cases import TEXT_MASK
from tests.layers.fusion.cases import TEXT_TOKENS


def test_basics():
    run_layer_test(
        TransformerFusionHead, **FUSION_CASES["TransformerFusionHead"]
    )


def test_the_output_is_the_normalised_fusion_token():
    head = TransformerFusionHead(hidden_dim=16, num_heads=2, num_layers=3)
    output = np.asarray(head(*HEAD_ARGS))
    assert len(head.blocks) == 3
    # Layer norm with its initial scale 1 and offset 0.
    np.testing.assert_allclose(output.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(output.std(-1), 1.0, atol=1e-3)


def test_the_image_tokens_know_where_they_are():
    head = TransformerFusionHead(hidden_dim=16, num_heads=2)
    before = head(*HEAD_ARGS)
    after = head(IMAGE_TOKENS[:, ::-1], TEXT_TOKENS, TEXT_MASK, TEXT)
    assert not np.allclose(after, before, atol=1e-4)


def test_xla_and_plain_paths_agree():
    xla = TransformerFusionHead(hidden_dim=16, num_heads=2, xla=True)
    plain = TransformerFusionHead(hidden_dim=16, num_heads=2, xla=False)
    expected = xla(*HEAD_ARGS)
    plain(*HEAD_ARGS)
    plain.set_weights(xla.get_weights())
    np.testing.assert_allclose(plain(*HEAD_ARGS), expected, atol=1e-5)
