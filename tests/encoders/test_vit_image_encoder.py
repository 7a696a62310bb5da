import numpy as np
import pytest

from mmkeras.encoders import ViTImageEncoder
from mmkeras.testing import run_layer_test

_IMAGES = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")
_SMALL = dict(
    patch_size=4, hidden_dim=16, num_layers=2, num_heads=2, intermediate_dim=32
)


def test_basics():
    run_layer_test(
        ViTImageEncoder,
        dict(_SMALL, dropout=0.1),
        args=(_IMAGES,),
        expected_output_shape=((2, 16), (2, 17, 16)),
        # Patch embedding 4, 16 per block, output norm 2.
        expected_num_trainable_weights=38,
    )


@pytest.mark.parametrize(
    "preset, num_tokens, hidden_dim", [("tiny", 17, 64), ("small", 17, 192)]
)
def test_preset_shapes(preset, num_tokens, hidden_dim):
    outputs = ViTImageEncoder.from_preset(preset)(
        np.zeros((2, 32, 32, 3), "float32")
    )
    assert outputs["tokens"].shape == (2, num_tokens, hidden_dim)
    assert outputs["pooled"].shape == (2, hidden_dim)


# timm's vit_{tiny,small}_patch16_224 minus the 1000-class head.
@pytest.mark.parametrize(
    "preset, expected",
    [("vit_tiny_16", 5_524_416), ("vit_small_16", 21_665_664)],
)
def test_standard_presets_match_timm_parameter_counts(preset, expected):
    encoder = ViTImageEncoder.from_preset(preset)
    encoder.build((None, 224, 224, 3))
    assert encoder.count_params() == expected


def test_pooling_reads_the_class_token_or_averages_the_patches():
    first = ViTImageEncoder(**_SMALL)
    outputs = first(_IMAGES)
    np.testing.assert_allclose(outputs["pooled"], outputs["tokens"][:, 0])
    mean = ViTImageEncoder(**_SMALL, pooling="mean")
    outputs = mean(_IMAGES)
    np.testing.assert_allclose(
        outputs["pooled"],
        np.mean(outputs["tokens"][:, 1:], axis=1),
        atol=1e-6,
    )


def test_xla_and_plain_attention_agree():
    xla = ViTImageEncoder(**_SMALL)
    plain = ViTImageEncoder(**_SMALL, xla=False)
    expected = xla(_IMAGES)["tokens"]
    plain(_IMAGES)
    plain.set_weights(xla.get_weights())
    np.testing.assert_allclose(plain(_IMAGES)["tokens"], expected, atol=1e-5)


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(ValueError, match="small, tiny, vit_small_16"):
        ViTImageEncoder.from_preset("base")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="hidden_dim=10, num_heads=3"):
        ViTImageEncoder(hidden_dim=10, num_heads=3)
