import re

import numpy as np
import pytest
import tensorflow as tf

from mmkeras.layers.fusion.bilinear_fusion import BilinearFusion
from mmkeras.testing import run_layer_test
from tests.layers.fusion.cases import AUDIO
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import IMAGE
from tests.layers.fusion.cases import TEXT
from tests.layers.fusion.cases import TEXT_TOKENS

_MUTAN = dict(output_dim=8, mode="mutan", rank=3, hidden_dim=10, dropout=0.1)


@pytest.mark.parametrize(
    "init_kwargs, num_weights",
    [(FUSION_CASES["BilinearFusion"]["init_kwargs"], 4), (_MUTAN, 10)],
    ids=["mfb", "mutan"],
)
def test_basics(init_kwargs, num_weights):
    case = dict(FUSION_CASES["BilinearFusion"])
    case["init_kwargs"] = init_kwargs
    case["expected_num_trainable_weights"] = num_weights
    run_layer_test(BilinearFusion, **case)


def _dense(dense, x, activation=lambda v: v):
    return activation(x @ dense.kernel.numpy() + dense.bias.numpy())


def test_mfb_matches_numpy_and_has_unit_norm():
    layer = BilinearFusion(output_dim=8, factor=3)
    output = layer([IMAGE, TEXT]).numpy()
    product = _dense(layer.x_dense, IMAGE) * _dense(layer.y_dense, TEXT)
    z = product.reshape(3, 8, 3).sum(axis=-1)
    z = np.sign(z) * np.sqrt(np.abs(z))
    expected = z / np.linalg.norm(z, axis=-1, keepdims=True)
    np.testing.assert_allclose(output, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(output, axis=-1), 1.0, atol=1e-5)


def test_mfb_gradients_are_finite_at_zero_under_xla():
    # Zero inputs and biases make z = 0, where d sqrt(|z|) / dz is infinite.
    layer = BilinearFusion(output_dim=8, factor=3)
    zeros = [np.zeros_like(IMAGE), np.zeros_like(TEXT)]
    layer(zeros)

    @tf.function(jit_compile=True)
    def gradients():
        with tf.GradientTape() as tape:
            output = layer(zeros)
            loss = tf.reduce_sum(output * np.arange(8.0, dtype="float32"))
        return output, tape.gradient(loss, layer.trainable_weights)

    output, grads = gradients()
    np.testing.assert_array_equal(output, 0.0)
    for gradient in grads:
        assert np.all(np.isfinite(gradient))


def test_mutan_matches_numpy():
    layer = BilinearFusion(output_dim=8, mode="mutan", rank=3, hidden_dim=10)
    output = layer([IMAGE, AUDIO])
    x = _dense(layer.x_dense, IMAGE, np.tanh)
    y = _dense(layer.y_dense, AUDIO, np.tanh)
    x_r = _dense(layer.x_core, x).reshape(3, 3, 10)
    y_r = _dense(layer.y_core, y).reshape(3, 3, 10)
    expected = _dense(layer.output_dense, (x_r * y_r).sum(axis=1))
    np.testing.assert_allclose(output, expected, atol=1e-5)


def test_mutan_is_bilinear_in_its_hidden_inputs():
    # Doubling one side's core doubles z, hence the output minus the bias.
    layer = BilinearFusion(output_dim=8, mode="mutan", rank=3)
    before = layer([IMAGE, TEXT]).numpy()
    layer.x_core.kernel.assign(2 * layer.x_core.kernel)
    after = layer([IMAGE, TEXT]).numpy()
    bias = layer.output_dense.bias.numpy()
    np.testing.assert_allclose(after - bias, 2 * (before - bias), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(output_dim=8, factor=0), "factor=0"),
        (dict(output_dim=0), "output_dim=0"),
        (dict(output_dim=8, mode="nope"), "mode='nope'"),
        (dict(output_dim=8, rank=-1), "rank=-1"),
        (dict(output_dim=8, hidden_dim=2.5), "hidden_dim=2.5"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        BilinearFusion(**kwargs)


@pytest.mark.parametrize(
    "inputs, message",
    [
        ([IMAGE, TEXT, AUDIO], "exactly 2 tensors. Received: 3 tensors"),
        ([IMAGE], "exactly 2 tensors. Received: 1 tensors"),
        ([IMAGE, TEXT_TOKENS], "[(3, 24), (3, 5, 16)]"),
    ],
)
def test_bad_inputs_raise(inputs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        BilinearFusion(output_dim=8)(inputs)
