import keras
import numpy as np
import pytest
import tensorflow as tf

from mmkeras.data import preprocess_image
from mmkeras.layers.vision import ImageConverter
from mmkeras.testing import run_layer_test
from tests.layers.vision.cases import VISION_CASES

_PIXELS = np.random.default_rng(0).integers(0, 256, (2, 12, 10, 3), "uint8")


def test_basics():
    run_layer_test(ImageConverter, **VISION_CASES["ImageConverter"])


def test_uint8_and_unit_floats_give_the_same_pixels():
    converter = ImageConverter(scale=2.0, offset=-1.0)
    from_uint8 = converter(_PIXELS).numpy()
    from_floats = converter(_PIXELS.astype("float32") / 255.0).numpy()
    np.testing.assert_allclose(from_uint8, from_floats, atol=1e-6)
    np.testing.assert_allclose(from_uint8, _PIXELS / 255.0 * 2 - 1, atol=1e-6)


def test_resizes_as_the_data_pipeline_does():
    converter = ImageConverter(image_size=(7, 5))
    expected = np.stack([preprocess_image(p, (7, 5)) for p in _PIXELS])
    np.testing.assert_allclose(converter(_PIXELS), expected, atol=1e-6)
    single = converter(_PIXELS[0])
    assert single.shape == (7, 5, 3)


def test_per_channel_scale_and_offset():
    converter = ImageConverter(scale=[1.0, 2.0, 4.0], offset=[0.0, 1.0, 2.0])
    ones = np.ones((1, 2, 2, 3), "float32")
    np.testing.assert_allclose(converter(ones)[0, 0, 0], [1.0, 3.0, 6.0])


def test_scale_255_keeps_the_range_efficientnet_wants():
    converter = ImageConverter(scale=255.0)
    np.testing.assert_allclose(converter(_PIXELS), _PIXELS, atol=1e-4)


def test_output_shape_and_size():
    converter = ImageConverter(image_size=(4, 6))
    assert converter.compute_output_shape((None, 9, 9, 3)) == (None, 4, 6, 3)
    assert converter.output_size((9, 9)) == (4, 6)
    assert ImageConverter().output_size((9, 9)) == (9, 9)


def test_runs_in_a_tf_data_pipeline():
    converter = ImageConverter(image_size=(6, 6))
    dataset = tf.data.Dataset.from_tensor_slices(_PIXELS).map(converter)
    (first, _) = list(dataset)
    assert first.shape == (6, 6, 3) and first.dtype == tf.float32


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(image_size=(0, 4)), "image_size"),
        (dict(image_size="big"), "image_size"),
        (dict(scale="x"), "scale"),
        (dict(offset=[]), "offset"),
        (dict(interpolation="cubic-ish"), "interpolation"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImageConverter(**kwargs)


def test_stays_float32_under_mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        converted = ImageConverter()(_PIXELS)
    finally:
        keras.config.set_dtype_policy(previous)
    assert converted.dtype == tf.float32


def test_resized_pixels_stay_in_the_unit_range():
    # A bicubic upscale of a hard edge overshoots to 1.07 without a clip.
    edge = np.zeros((1, 8, 8, 3), "uint8")
    edge[:, :, 4:] = 255
    converter = ImageConverter(image_size=(8, 21), interpolation="bicubic")
    converted = converter(edge).numpy()
    assert converted.min() == 0.0 and converted.max() == 1.0
