import re

import keras
import numpy as np
import pytest

from mmkeras.layers.fusion.gated_fusion import GatedFusion
from mmkeras.testing import run_layer_test
from tests.layers.fusion.cases import AUDIO
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import IMAGE
from tests.layers.fusion.cases import TEXT
from tests.layers.fusion.cases import TEXT_TOKENS


@pytest.mark.parametrize("mode, num_weights", [("gated", 8), ("weighted", 7)])
def test_basics(mode, num_weights):
    case = dict(FUSION_CASES["GatedFusion"])
    case["init_kwargs"] = dict(case["init_kwargs"], mode=mode)
    case["expected_num_trainable_weights"] = num_weights
    run_layer_test(GatedFusion, **case)


def _hidden(layer, inputs):
    """`tanh(W_i x_i + b_i)` per modality, `(batch, n, units)`, in numpy."""
    return np.stack(
        [
            np.tanh(x @ dense.kernel.numpy() + dense.bias.numpy())
            for dense, x in zip(layer.projections, inputs, strict=True)
        ],
        axis=1,
    )


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_gated_output_matches_numpy():
    inputs = [IMAGE, TEXT, AUDIO]
    layer = GatedFusion(units=12)
    output, gates = layer(inputs, return_gates=True)
    dense = layer.gate_dense
    logits = np.concatenate(inputs, -1) @ dense.kernel.numpy() + dense.bias
    expected_gates = _softmax(np.reshape(logits, (3, 3, 12)), axis=1)
    np.testing.assert_allclose(gates, expected_gates, atol=1e-5)
    expected = (expected_gates * _hidden(layer, inputs)).sum(axis=1)
    np.testing.assert_allclose(output, expected, atol=1e-5)


def test_gates_sum_to_one_per_unit():
    _, gates = GatedFusion(units=12)([IMAGE, TEXT, AUDIO], return_gates=True)
    assert gates.shape == (3, 3, 12)
    np.testing.assert_allclose(np.sum(gates, axis=1), 1.0, atol=1e-6)


def test_two_modalities_give_the_sigmoid_gmu():
    layer = GatedFusion(units=12)
    output, gates = layer([IMAGE, TEXT], return_gates=True)
    logits = np.reshape(
        layer.gate_dense(np.concatenate([IMAGE, TEXT], -1)), (3, 2, 12)
    )
    z = 1 / (1 + np.exp(-(logits[:, 0] - logits[:, 1])))
    h = _hidden(layer, [IMAGE, TEXT])
    np.testing.assert_allclose(gates[:, 0], z, atol=1e-6)
    expected = z * h[:, 0] + (1 - z) * h[:, 1]
    np.testing.assert_allclose(output, expected, atol=1e-5)


def test_weighted_mode_uses_softmax_of_learned_scalars():
    layer = GatedFusion(units=12, mode="weighted")
    layer([IMAGE, TEXT])
    layer.modality_logits.assign([np.log(3.0), 0.0])
    output, gates = layer([IMAGE, TEXT], return_gates=True)
    np.testing.assert_allclose(gates[:, 0], 0.75, atol=1e-6)
    h = _hidden(layer, [IMAGE, TEXT])
    expected = 0.75 * h[:, 0] + 0.25 * h[:, 1]
    np.testing.assert_allclose(output, expected, atol=1e-5)


def test_return_gates_in_a_functional_model():
    layer = GatedFusion(units=12)
    inputs = [keras.Input((24,)), keras.Input((16,))]
    output, gates = layer(inputs, return_gates=True)
    assert (output.shape, gates.shape) == ((None, 12), (None, 2, 12))
    model = keras.Model(inputs, [output, gates])
    for actual, expected in zip(
        model([IMAGE, TEXT]),
        layer([IMAGE, TEXT], return_gates=True),
        strict=True,
    ):
        np.testing.assert_allclose(actual, expected, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(units=0), "units=0"),
        (dict(units=4, mode="nope"), "mode='nope'"),
        (dict(units=4, dropout=-0.1), "dropout=-0.1"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        GatedFusion(**kwargs)


@pytest.mark.parametrize(
    "inputs, message",
    [
        ([IMAGE], "at least 2 tensors. Received: 1 tensors"),
        ([IMAGE, TEXT_TOKENS], "rank 2. Received: inputs with shapes "),
    ],
)
def test_bad_inputs_raise(inputs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        GatedFusion(units=4)(inputs)
