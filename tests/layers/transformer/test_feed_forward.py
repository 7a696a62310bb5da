import math

import numpy as np
import pytest

from mmkeras.layers import FeedForward
from mmkeras.testing import run_layer_test
from tests.layers.cases import CASES


def test_basics():
    run_layer_test(FeedForward, **CASES["FeedForward"])


def test_matches_numpy_reference():
    layer = FeedForward(intermediate_dim=8, activation="relu")
    inputs = np.random.default_rng(0).standard_normal((2, 3, 4), "float32")
    actual = layer(inputs)
    w1, b1, w2, b2 = (w.numpy() for w in layer.weights)
    expected = np.maximum(inputs @ w1 + b1, 0.0) @ w2 + b2
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="intermediate_dim=0"):
        FeedForward(intermediate_dim=0)
    with pytest.raises(ValueError, match="dropout=-0.1"):
        FeedForward(intermediate_dim=4, dropout=-0.1)


def test_mixed_precision_activation_runs_in_float32():
    import tensorflow as tf

    layer = FeedForward(intermediate_dim=8, dtype="mixed_bfloat16")
    inputs = np.random.default_rng(0).standard_normal((2, 3, 4), "float32")
    outputs = layer(inputs)
    assert outputs.dtype == "bfloat16"
    spec = tf.TensorSpec(inputs.shape)
    graph = tf.function(layer).get_concrete_function(spec).graph
    gelu = [op for op in graph.get_operations() if op.type == "Erfc"]
    assert [op.outputs[0].dtype for op in gelu] == [tf.float32]
    w1, b1, w2, b2 = (w.numpy() for w in layer.weights)
    hidden = inputs @ w1 + b1
    expected = 0.5 * hidden * (1 + np.vectorize(math.erf)(hidden / 2**0.5))
    np.testing.assert_allclose(outputs, expected @ w2 + b2, atol=0.05)
