import keras
import numpy as np
import pytest

from mmkeras.layers import FiLM
from mmkeras.testing import run_layer_test
from tests.layers.fusion.cases import FEATURE_MAP
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import TEXT
from tests.layers.fusion.cases import TEXT_TOKENS


def test_basics():
    run_layer_test(FiLM, **FUSION_CASES["FiLM"])


def test_matches_numpy():
    layer = FiLM()
    output, (gamma, beta) = layer([FEATURE_MAP, TEXT], return_modulation=True)
    kernel, bias = (w.numpy() for w in layer.modulation.weights)
    modulation = TEXT @ kernel + bias
    expected_gamma, expected_beta = modulation[:, :8], modulation[:, 8:]
    np.testing.assert_allclose(gamma, expected_gamma, atol=1e-5)
    np.testing.assert_allclose(beta, expected_beta, atol=1e-5)
    expected = (1 + expected_gamma[:, None, None]) * FEATURE_MAP
    expected += expected_beta[:, None, None]
    np.testing.assert_allclose(output, expected, atol=1e-5)


def test_a_zero_kernel_is_the_identity():
    layer = FiLM(kernel_initializer="zeros")
    np.testing.assert_array_equal(layer([FEATURE_MAP, TEXT]), FEATURE_MAP)


def test_modulates_tokens_per_example():
    layer = FiLM()
    output = np.asarray(layer([TEXT_TOKENS, TEXT]))
    assert output.shape == TEXT_TOKENS.shape
    # Every token of one example gets the same scale and shift.
    ratio = (output[0] - output[0, :1]) / (TEXT_TOKENS[0] - TEXT_TOKENS[0, :1])
    np.testing.assert_allclose(ratio[1:], ratio[1:2].repeat(4, 0), rtol=1e-4)


def test_is_serializable_inside_a_model():
    features = keras.Input((4, 4, 8))
    condition = keras.Input((16,))
    model = keras.Model(
        [features, condition], FiLM(name="film")([features, condition])
    )
    restored = keras.Model.from_config(model.get_config())
    restored.set_weights(model.get_weights())
    np.testing.assert_allclose(
        restored([FEATURE_MAP, TEXT]), model([FEATURE_MAP, TEXT]), atol=1e-6
    )


@pytest.mark.parametrize(
    "inputs, message",
    [
        ([FEATURE_MAP], "exactly 2"),
        (
            [FEATURE_MAP, TEXT_TOKENS],
            r"condition must have rank 2.*\(3, 5, 16\)",
        ),
        ([TEXT[:, 0], TEXT], r"features must have rank 2 or more.*\(3,\)"),
    ],
)
def test_bad_inputs_are_named(inputs, message):
    with pytest.raises(ValueError, match=message):
        FiLM()(inputs)
