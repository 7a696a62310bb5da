import numpy as np
import pytest

from mmkeras.layers import RMSNormalization
from mmkeras.testing import run_layer_test
from tests.layers.cases import CASES

rng = np.random.default_rng(5)


def _reference(x, scale, epsilon):
    x = x.astype("float64")
    return x / np.sqrt(np.mean(x**2, -1, keepdims=True) + epsilon) * scale


def test_basics():
    run_layer_test(RMSNormalization, **CASES["RMSNormalization"])


def test_matches_numpy_reference():
    layer = RMSNormalization(epsilon=1e-3)
    x = rng.standard_normal((2, 3, 8)).astype("float32")
    layer.build(x.shape)
    scale = rng.standard_normal(8).astype("float32")
    layer.scale.assign(scale)
    np.testing.assert_allclose(
        layer(x), _reference(x, scale, 1e-3), rtol=1e-5, atol=1e-6
    )
    # The scale starts at ones: a fresh layer only normalizes.
    fresh = RMSNormalization()(x)
    np.testing.assert_allclose(
        np.mean(np.square(fresh), -1), 1.0 - 1e-6 / 1.0, atol=1e-4
    )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_statistics_run_in_float32_under_mixed_precision(policy):
    # Squares of 1000 overflow float16 (max 65504): a float16 mean square
    # would be inf and every output 0.
    x = (1000.0 * rng.standard_normal((2, 4, 16))).astype("float32")
    layer = RMSNormalization(dtype=policy)
    outputs = layer(x)
    assert outputs.dtype == policy.split("_")[1]
    assert layer.scale.dtype == "float32"
    expected = _reference(
        x.astype(policy.split("_")[1]).astype("float32"), 1, 1e-6
    )
    np.testing.assert_allclose(
        np.asarray(outputs, "float32"), expected, rtol=2e-2, atol=2e-2
    )


@pytest.mark.parametrize("epsilon", [-1e-5, "small", True, None])
def test_bad_epsilon(epsilon):
    with pytest.raises(
        ValueError, match="epsilon must be a number >= 0. Received: epsilon="
    ):
        RMSNormalization(epsilon=epsilon)
