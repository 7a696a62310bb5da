import keras
import numpy as np
import pytest

from mmkeras.layers import ImageTokenProjector
from mmkeras.testing import run_layer_test
from tests.layers.cases import CASES

rng = np.random.default_rng(9)
TOKENS = rng.standard_normal((2, 7, 12)).astype("float32")


def test_basics():
    run_layer_test(ImageTokenProjector, **CASES["ImageTokenProjector"])


def test_is_the_llava_mlp():
    projector = ImageTokenProjector(hidden_dim=16)
    outputs = projector(TOKENS).numpy()
    hidden, output = projector.hidden_dense, projector.output_dense
    assert hidden.kernel.shape == (12, 16)  # intermediate_dim = hidden_dim
    assert output.kernel.shape == (16, 16)
    pre = TOKENS @ hidden.kernel.numpy() + hidden.bias.numpy()
    gelu = keras.activations.gelu(pre).numpy()
    expected = gelu @ output.kernel.numpy() + output.bias.numpy()
    np.testing.assert_allclose(outputs, expected, atol=1e-5)


def test_any_number_of_tokens_and_their_mask_pass_through():
    inputs = keras.Input((None, 12))
    masked = keras.layers.Masking(0.0)(inputs)
    projector = ImageTokenProjector(8, intermediate_dim=4, activation="relu")
    model = keras.Model(inputs, projector(masked))
    assert model.output_shape == (None, None, 8)
    assert projector(keras.ops.ones((1, 3, 12))).shape == (1, 3, 8)
    padded = np.concatenate([TOKENS, np.zeros((2, 2, 12), "float32")], 1)
    outputs = projector(keras.layers.Masking(0.0)(padded))
    np.testing.assert_array_equal(
        outputs._keras_mask, np.arange(9)[None].repeat(2, 0) < 7
    )
    np.testing.assert_allclose(model(padded)[:, :7], model(TOKENS), 1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(hidden_dim=0), "hidden_dim must be a positive integer"),
        (dict(intermediate_dim=2.0), "intermediate_dim must be a positive"),
        (dict(activation="nope"), "nope"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImageTokenProjector(**{"hidden_dim": 8, **kwargs})


def test_bad_inputs():
    projector = ImageTokenProjector(8)
    with pytest.raises(ValueError, match=r"image_tokens must have rank 3"):
        projector(TOKENS[0])
    projector(TOKENS)
    with pytest.raises(ValueError, match=r"must have 12 features .*\(2, 7, 5"):
        projector(TOKENS[..., :5])
