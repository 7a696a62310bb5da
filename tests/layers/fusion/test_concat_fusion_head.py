import numpy as np
import pytest

from mmkeras.layers import ConcatFusionHead
from mmkeras.testing import run_layer_test
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import HEAD_ARGS
from tests.layers.fusion.cases import IMAGE_TOKENS
from tests.layers.fusion.cases import TEXT


def test_basics():
    run_layer_test(ConcatFusionHead, **FUSION_CASES["ConcatFusionHead"])


def test_the_output_is_every_image_token_then_the_pooled_question():
    output = ConcatFusionHead()(*HEAD_ARGS)
    expected = np.concatenate([IMAGE_TOKENS.reshape(3, -1), TEXT], axis=-1)
    np.testing.assert_array_equal(output, expected)


def test_a_dynamic_number_of_image_tokens_is_refused():
    head = ConcatFusionHead()
    with pytest.raises(ValueError, match=r"static.*\(None, None, 8\)"):
        head.build((None, None, 8), (None, 5, 16), (None, 5), (None, 16))
