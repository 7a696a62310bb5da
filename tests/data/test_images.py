"""The image pipeline: decoding, resizing, normalisation, augmentation."""

import numpy as np
import pytest
import tensorflow as tf

from mmkeras.data import images
from tests.data import _fixtures


def test_basics(tmp_path):
    png = _fixtures.write_image(tmp_path / "a.png", _fixtures.RED, (5, 7))
    jpeg = _fixtures.write_image(tmp_path / "b.jpg", _fixtures.BLUE, (5, 7))
    for path, color in ((png, _fixtures.RED), (jpeg, _fixtures.BLUE)):
        image = images.load_image(str(path))
        assert image.dtype == tf.uint8 and image.shape == (5, 7, 3)
        np.testing.assert_allclose(image[2, 3], color, atol=2)


def test_grey_and_rgba_become_rgb():
    grey = tf.io.encode_png(tf.fill((3, 4, 1), tf.constant(9, tf.uint8)))
    rgba = tf.io.encode_png(tf.fill((3, 4, 4), tf.constant(9, tf.uint8)))
    assert images.decode_image(grey).numpy().tolist() == [[[9] * 3] * 4] * 3
    assert images.decode_image(rgba).shape == (3, 4, 3)


@pytest.mark.parametrize(
    "normalize, expected",
    [
        ("unit", [1.0, 0.0, 0.0]),
        (None, [255.0, 0.0, 0.0]),
        (
            "imagenet",
            np.subtract([1, 0, 0], images.IMAGENET_MEAN) / images.IMAGENET_STD,
        ),
    ],
)
def test_solid_colour_survives_resize(normalize, expected):
    image = tf.constant(np.full((30, 50, 3), _fixtures.RED, np.uint8))
    x = images.preprocess_image(image, (8, 6), normalize=normalize)
    assert x.dtype == tf.float32 and x.shape == (8, 6, 3)
    np.testing.assert_allclose(x, np.broadcast_to(expected, x.shape), 1e-5)


def test_augmentation_is_seeded():
    image = tf.random.stateless_uniform((20, 30, 3), (1, 2), 0, 255, tf.int32)
    augment = ("crop", "brightness", "flip")

    def run(seed):
        return images.preprocess_image(
            image, (10, 10), augment=augment, seed=seed
        ).numpy()

    np.testing.assert_array_equal(run(3), run(3))
    np.testing.assert_array_equal(run(3), run(tf.constant([3, 0])))
    assert not np.array_equal(run(3), run(4))
    plain = images.preprocess_image(image, (10, 10)).numpy()
    assert not np.array_equal(run(3), plain)


def test_augment_true_never_flips():
    # Left half black, right half white: a flip would swap them.
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, 20:] = 255
    for seed in range(20):
        x = images.preprocess_image(image, (20, 40), augment=True, seed=seed)
        assert tf.reduce_mean(x[:, :10]) < tf.reduce_mean(x[:, -10:])


def test_preprocess_in_dataset_map():
    ds = tf.data.Dataset.from_tensors(tf.zeros((9, 9, 3), tf.uint8))
    ds = ds.map(lambda x: images.preprocess_image(x, (4, 4), augment=True))
    assert ds.element_spec.shape == (4, 4, 3)
    assert next(iter(ds)).shape == (4, 4, 3)


def test_load_image_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.png"):
        images.load_image(str(tmp_path / "nothing.png"))
    corrupt = _fixtures.write_corrupt(tmp_path / "cut.jpg")
    with pytest.raises(ValueError, match="cut.jpg.*not a readable image"):
        images.load_image(str(corrupt))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"size": 224}, "size must be"),
        ({"size": (0, 4)}, "size must be"),
        ({"normalize": "minmax"}, "normalize must be one of"),
        ({"augment": ["rotate"]}, "augment must be one of"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        images.preprocess_image(tf.zeros((4, 4, 3)), **kwargs)
