import numpy as np
import pytest

from mmkeras.layers.vision import PatchEmbedding
from mmkeras.testing import run_layer_test
from tests.layers.vision.cases import VISION_CASES

_IMAGES = VISION_CASES["PatchEmbedding"]["args"][0]


def test_basics():
    run_layer_test(PatchEmbedding, **VISION_CASES["PatchEmbedding"])


def _reference_patches(layer, images):
    """Patches in row-major order times the conv kernel, plus the bias."""
    kernel, bias = (w.numpy() for w in layer.projection.weights)
    p = layer.patch_size
    batch, height, width, channels = images.shape
    patches = images.reshape(
        batch, height // p, p, width // p, p, channels
    ).transpose(0, 1, 3, 2, 4, 5)
    patches = patches.reshape(batch, -1, p * p * channels)
    return patches @ kernel.reshape(p * p * channels, -1) + bias


def test_matches_numpy_reference():
    layer = PatchEmbedding(patch_size=4, hidden_dim=8)
    outputs = np.asarray(layer(_IMAGES))
    position = layer.position_embedding.numpy()
    expected = _reference_patches(layer, _IMAGES) + position
    assert outputs.shape == (2, 16, 8)
    np.testing.assert_allclose(outputs, expected, atol=1e-5)


def test_class_token_is_first_row():
    layer = PatchEmbedding(patch_size=4, hidden_dim=8, use_class_token=True)
    layer.build(_IMAGES.shape)
    class_token = np.arange(8, dtype="float32")
    layer.class_token.assign(class_token)
    outputs = np.asarray(layer(_IMAGES))
    position = layer.position_embedding.numpy()
    assert outputs.shape == (2, 17, 8)
    for row in outputs[:, 0]:
        np.testing.assert_allclose(row, class_token + position[0], atol=1e-6)
    expected = _reference_patches(layer, _IMAGES) + position[1:]
    np.testing.assert_allclose(outputs[:, 1:], expected, atol=1e-5)


def test_without_position_embedding_is_the_projection():
    layer = PatchEmbedding(
        patch_size=8, hidden_dim=4, use_position_embedding=False
    )
    outputs = np.asarray(layer(_IMAGES))
    assert len(layer.trainable_weights) == 2
    expected = _reference_patches(layer, _IMAGES)
    np.testing.assert_allclose(outputs, expected, atol=1e-5)


def test_compute_output_shape():
    layer = PatchEmbedding(patch_size=4, hidden_dim=8, use_class_token=True)
    assert layer.compute_output_shape((None, 16, 8, 3)) == (None, 9, 8)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(patch_size=0, hidden_dim=8), "patch_size=0"),
        (dict(patch_size=2.5, hidden_dim=8), "patch_size=2.5"),
        (dict(patch_size=4, hidden_dim=-1), "hidden_dim=-1"),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PatchEmbedding(**kwargs)


def test_rejects_image_size_not_divisible_by_patch_size():
    layer = PatchEmbedding(patch_size=4, hidden_dim=8)
    with pytest.raises(ValueError, match=r"\(15, 16\), patch_size=4"):
        layer(np.zeros((2, 15, 16, 3), "float32"))


def test_rejects_dynamic_image_size():
    layer = PatchEmbedding(patch_size=4, hidden_dim=8)
    with pytest.raises(ValueError, match=r"\(None, 16\), patch_size=4"):
        layer.build((None, None, 16, 3))


def test_rejects_a_different_image_size_after_build():
    layer = PatchEmbedding(patch_size=4, hidden_dim=8)
    layer(_IMAGES)
    with pytest.raises(ValueError, match=r"16 patches.*\(2, 32, 32, 3\)"):
        layer(np.zeros((2, 32, 32, 3), "float32"))


def test_rejects_bad_rank():
    layer = PatchEmbedding(patch_size=4, hidden_dim=8)
    with pytest.raises(ValueError, match=r"rank 4.*\(2, 16, 16\)"):
        layer(np.zeros((2, 16, 16), "float32"))
