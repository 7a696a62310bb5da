import re

import numpy as np
import pytest
import tensorflow as tf

from mmkeras.layers.fusion.late_fusion import LateFusion
from mmkeras.testing import run_layer_test
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import LOGITS


@pytest.mark.parametrize(
    "init_kwargs, num_weights",
    [
        (FUSION_CASES["LateFusion"]["init_kwargs"], 1),
        (dict(mode="fixed", modality_weights=[2, 1]), 0),
        (dict(mode="mean", combine="probabilities"), 0),
    ],
    ids=["learned", "fixed", "mean"],
)
def test_basics(init_kwargs, num_weights):
    case = dict(FUSION_CASES["LateFusion"])
    case["init_kwargs"] = init_kwargs
    case["expected_num_trainable_weights"] = num_weights
    run_layer_test(LateFusion, **case, run_training_step=num_weights > 0)


def _log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def test_fixed_one_zero_returns_the_first_logits_exactly():
    output = LateFusion("fixed", modality_weights=[1, 0])(LOGITS)
    np.testing.assert_array_equal(output, LOGITS[0])


def test_fixed_weights_are_normalised():
    layer = LateFusion("fixed", modality_weights=[3, 1])
    output = layer(LOGITS)
    np.testing.assert_allclose(
        layer.normalized_weights(), [0.75, 0.25], atol=1e-7
    )
    expected = 0.75 * LOGITS[0] + 0.25 * LOGITS[1]
    np.testing.assert_allclose(output, expected, atol=1e-6)


def test_probabilities_give_the_log_of_the_mixture():
    layer = LateFusion(
        "fixed", modality_weights=[3, 1], combine="probabilities"
    )
    output = layer(LOGITS).numpy()
    probs = [np.exp(_log_softmax(logits)) for logits in LOGITS]
    np.testing.assert_allclose(
        output, np.log(0.75 * probs[0] + 0.25 * probs[1]), atol=1e-5
    )
    np.testing.assert_allclose(np.exp(output).sum(axis=-1), 1.0, atol=1e-5)


def test_zero_weight_probabilities_stay_finite():
    layer = LateFusion(
        "fixed", modality_weights=[1, 0], combine="probabilities"
    )
    expected = _log_softmax(LOGITS[0])
    np.testing.assert_allclose(layer(LOGITS), expected, atol=1e-5)


@pytest.mark.parametrize("combine", ["logits", "probabilities"])
def test_mean_of_identical_inputs_is_the_input(combine):
    output = LateFusion("mean", combine=combine)([LOGITS[0]] * 3)
    expected = LOGITS[0] if combine == "logits" else _log_softmax(LOGITS[0])
    np.testing.assert_allclose(output, expected, atol=1e-5)


@pytest.mark.parametrize("combine", ["logits", "probabilities"])
def test_learned_weights_receive_gradients(combine):
    layer = LateFusion(combine=combine)
    layer(LOGITS)
    np.testing.assert_allclose(
        layer.normalized_weights(), [0.5, 0.5], atol=1e-7
    )
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((layer(LOGITS) - LOGITS[0]) ** 2)
    gradient = tape.gradient(loss, layer.modality_logits).numpy()
    # Moving weight towards modality 0 lowers the loss.
    assert gradient[0] < 0 < gradient[1]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="nope"), "mode='nope'"),
        (dict(combine="nope"), "combine='nope'"),
        (dict(mode="fixed"), "modality_weights=None"),
        (dict(mode="fixed", modality_weights=[1, -1]), "weights=[1, -1]"),
        (dict(mode="fixed", modality_weights=[0, 0]), "weights=[0, 0]"),
        (dict(mode="mean", modality_weights=[1, 2]), "mode='mean'"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        LateFusion(**kwargs)


def test_wrong_number_of_weights_raises_at_build():
    layer = LateFusion("fixed", modality_weights=[1, 2, 3])
    message = "modality_weights=[1, 2, 3] for 2 inputs"
    with pytest.raises(ValueError, match=re.escape(message)):
        layer(LOGITS)


@pytest.mark.parametrize(
    "inputs, message",
    [
        (LOGITS[:1], "at least 2 tensors. Received: 1 tensors"),
        ([LOGITS[0], LOGITS[1][:, :4]], "[(3, 6), (3, 4)]"),
        ([LOGITS[0][None], LOGITS[1][None]], "rank 2"),
    ],
)
def test_bad_inputs_raise(inputs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        LateFusion()(inputs)
