import numpy as np

from mmkeras.layers import BilinearFusionHead
from mmkeras.testing import run_layer_test
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import HEAD_ARGS
from tests.layers.fusion.cases import IMAGE_TOKENS
from tests.layers.fusion.cases import TEXT
from tests.layers.fusion.cases import TEXT_MASK


def test_basics():
    run_layer_test(BilinearFusionHead, **FUSION_CASES["BilinearFusionHead"])


def test_only_the_pooled_question_is_read():
    head = BilinearFusionHead(hidden_dim=16, num_heads=2)
    before = np.asarray(head(*HEAD_ARGS))
    other_tokens = np.zeros((3, 2, 7), "float32")
    after = head(IMAGE_TOKENS, other_tokens, np.ones((3, 2), bool), TEXT)
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_mfb_rows_have_unit_norm():
    head = BilinearFusionHead(hidden_dim=16, num_heads=2)
    output = np.asarray(
        head(IMAGE_TOKENS, IMAGE_TOKENS, TEXT_MASK[:, :1], TEXT)
    )
    np.testing.assert_allclose(np.linalg.norm(output, axis=-1), 1.0, atol=1e-5)
