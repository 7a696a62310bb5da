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


def test_swiglu_basics():
    run_layer_test(FeedForward, **CASES["FeedForward(SwiGLU)"])


def test_swiglu_matches_numpy_reference():
    layer = FeedForward(8, activation="silu", gated=True, use_bias=False)
    inputs = np.random.default_rng(1).standard_normal((2, 3, 4), "float32")
    actual = layer(inputs)
    up, gate, down = (w.numpy() for w in layer.weights)
    assert [w.path.split("/")[-2] for w in layer.weights] == [
        "hidden",
        "gate",
        "output",
    ]
    gated = inputs @ gate
    expected = (gated / (1.0 + np.exp(-gated)) * (inputs @ up)) @ down
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_gated_with_biases_and_other_activations():
    layer = FeedForward(8, activation="gelu", gated=True)
    inputs = np.random.default_rng(2).standard_normal((2, 3, 4), "float32")
    actual = layer(inputs)
    w1, b1, wg, bg, w2, b2 = (w.numpy() for w in layer.weights)
    gated = inputs @ wg + bg
    gelu = 0.5 * gated * (1 + np.vectorize(math.erf)(gated / 2**0.5))
    expected = (gelu * (inputs @ w1 + b1)) @ w2 + b2
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_configs_without_the_gate_options_load_unchanged():
    layer = FeedForward(intermediate_dim=8)
    inputs = np.ones((1, 2, 4), "float32")
    expected = layer(inputs)
    config = layer.get_config()
    assert config["gated"] is False and config["use_bias"] is True
    del config["gated"], config["use_bias"]
    loaded = FeedForward.from_config(config)
    loaded(inputs)
    assert len(loaded.weights) == 4
    loaded.set_weights(layer.get_weights())
    np.testing.assert_allclose(loaded(inputs), expected, atol=1e-7)


def test_swiglu_under_mixed_bfloat16():
    inputs = np.random.default_rng(0).standard_normal((2, 3, 4), "float32")
    reference = FeedForward(8, activation="silu", gated=True, use_bias=False)
    expected = reference(inputs)
    layer = FeedForward(
        8, activation="silu", gated=True, use_bias=False, dtype="mixed_bfloat16"
    )
    layer(inputs)
    layer.set_weights(reference.get_weights())
    outputs = layer(inputs)
    assert outputs.dtype == "bfloat16"
    np.testing.assert_allclose(
        np.asarray(outputs, "float32"), expected, atol=0.05
    )


@pytest.mark.parametrize("name", ["gated", "use_bias"])
def test_gate_options_must_be_booleans(name):
    with pytest.raises(
        ValueError, match=f"{name} must be True or False. Received: {name}='y'"
    ):
        FeedForward(4, **{name: "y"})
