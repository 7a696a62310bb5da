import numpy as np
import pytest

from mmkeras.encoders import ConvImageEncoder
from mmkeras.testing import run_layer_test

_IMAGES = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")


def test_basics():
    run_layer_test(
        ConvImageEncoder,
        dict(filters=(4, 8), hidden_dim=8),
        args=(_IMAGES,),
        # Outputs flatten by key: "pooled", then "tokens".
        expected_output_shape=((2, 8), (2, 16, 8)),
        # Stem: 2 kernels, 2 x (gamma, beta), projection kernel and bias,
        # position embedding; output norm: gamma, beta.
        expected_num_trainable_weights=11,
    )


@pytest.mark.parametrize(
    "preset, num_tokens, hidden_dim", [("tiny", 16, 64), ("small", 4, 256)]
)
def test_preset_shapes(preset, num_tokens, hidden_dim):
    encoder = ConvImageEncoder.from_preset(preset)
    outputs = encoder(np.zeros((2, 32, 32, 3), "float32"))
    assert outputs["tokens"].shape == (2, num_tokens, hidden_dim)
    assert outputs["pooled"].shape == (2, hidden_dim)


def test_tokens_without_the_layer_norm_are_the_stems_features():
    run_layer_test(
        ConvImageEncoder,
        dict(filters=(4, 8), hidden_dim=8, normalize_tokens=False),
        args=(_IMAGES,),
        expected_output_shape=((2, 8), (2, 16, 8)),
        expected_num_trainable_weights=9,
    )
    encoder = ConvImageEncoder(
        filters=(4,), hidden_dim=8, normalize_tokens=False
    )
    tokens = encoder(_IMAGES)["tokens"]
    np.testing.assert_allclose(tokens, encoder.stem(_IMAGES), atol=1e-6)
    # The stem's features keep their scale; a layer norm would give every
    # token unit variance.
    assert not np.allclose(np.std(tokens, axis=-1), 1.0, atol=0.1)


def test_mean_pooling_averages_the_tokens():
    outputs = ConvImageEncoder(filters=(4,), hidden_dim=8)(_IMAGES)
    np.testing.assert_allclose(
        outputs["pooled"], np.mean(outputs["tokens"], axis=1), atol=1e-6
    )


def test_preset_overrides_apply():
    encoder = ConvImageEncoder.from_preset("tiny", pooling="max")
    assert encoder.pooling == "max"
    assert encoder.filters == (16, 32, 64)


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(ValueError, match="Available presets: small, tiny"):
        ConvImageEncoder.from_preset("tiyn")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="pooling=.cls."):
        ConvImageEncoder(pooling="cls")
    with pytest.raises(ValueError, match="hidden_dim=0"):
        ConvImageEncoder(hidden_dim=0)


def test_context_layers_reach_the_stem_and_the_config():
    encoder = ConvImageEncoder(filters=(4, 8), hidden_dim=8, context_layers=2)
    assert encoder(_IMAGES)["tokens"].shape == (2, 16, 8)
    assert len(encoder.stem.context) == 2
    config = encoder.get_config()
    assert config["context_layers"] == 2
    assert ConvImageEncoder.from_config(config).context_layers == 2
