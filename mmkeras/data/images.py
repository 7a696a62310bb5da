"""Image decoding, resizing, normalisation and augmentation on `tf`, usable
eagerly and inside `tf.data.Dataset.map`."""

import os

import tensorflow as tf

from mmkeras import _checks

NORMALIZATIONS = ("unit", "imagenet", None)
AUGMENTATIONS = ("crop", "brightness", "flip")
# `augment=True`: no flip, which would swap "left" and "right" in the text.
DEFAULT_AUGMENTATIONS = ("crop", "brightness")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Random crops keep this fraction (or more) of each side.
MIN_CROP_SIDE = 0.8
MAX_BRIGHTNESS_DELTA = 0.1


def decode_image(data):
    """Decodes JPEG, PNG, GIF (first frame) or BMP bytes to RGB.

    Args:
        data: a string scalar tensor (or Python bytes) holding the file.

    Returns:
        A uint8 tensor `(height, width, 3)`; grey and RGBA become RGB.

    Example:

    >>> data = tf.io.encode_png(tf.zeros((4, 6, 1), tf.uint8))
    >>> mmkeras.data.decode_image(data).shape
    TensorShape([4, 6, 3])
    """
    return tf.io.decode_image(data, channels=3, expand_animations=False)


def load_image(path):
    """Reads and decodes an image file (see `decode_image`).

    Called eagerly, a missing or undecodable file raises a `ValueError`
    naming it, not a TensorFlow error.

    Example:

    >>> mmkeras.data.load_image("cat.jpg").dtype
    tf.uint8
    """
    if not tf.executing_eagerly():
        return decode_image(tf.io.read_file(path))
    name = os.fsdecode(path.numpy() if tf.is_tensor(path) else path)
    if not os.path.isfile(name):
        raise FileNotFoundError(f"No image file at {name!r}.")
    try:
        return decode_image(tf.io.read_file(name))
    except tf.errors.InvalidArgumentError as error:
        raise ValueError(
            f"{name!r} is not a readable image (corrupt, truncated or not "
            f"JPEG/PNG/GIF/BMP): {error.message}"
        ) from None


def preprocess_image(
    image, size=(224, 224), normalize="unit", augment=False, seed=None
):
    """Resizes an image to float32, normalises and optionally augments it.

    Args:
        image: an integer or float tensor `(height, width, channels)` with
            values in [0, 255].
        size: `(height, width)` of the output; the resize is bilinear with
            antialiasing (the aspect ratio is not kept).
        normalize: "unit" for [0, 1], "imagenet" for the ImageNet mean and
            standard deviation per channel, None to keep [0, 255].
        augment: False, True (`DEFAULT_AUGMENTATIONS`) or a list of names
            from `AUGMENTATIONS`: "crop" (a random crop keeping at least
            80% of each side), "brightness" (+-0.1 on the [0, 1] scale)
            and "flip" (left-right; not in `True`, since it breaks texts
            that say "left" or "right").
        seed: an int or an int tensor `(2,)` making augmentation
            deterministic (stateless random ops); None draws one. Give
            every image its own seed, e.g. from `tf.data.Dataset.random`.

    Returns:
        A float32 tensor `(*size, channels)`.

    Example:

    >>> image = tf.fill((10, 20, 3), tf.constant(255, tf.uint8))
    >>> x = mmkeras.data.preprocess_image(image, size=(4, 4))
    >>> x.shape, x.dtype
    (TensorShape([4, 4, 3]), tf.float32)
    """
    augment = check_preprocessing(size, normalize, augment)
    if augment:
        if seed is None:
            seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
        elif isinstance(seed, int):
            seed = [seed, 0]
        crop_seed, shift_seed, flip_seed, size_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, 4)
        )
    if "crop" in augment:
        image = _random_crop(image, crop_seed, size_seed)
    x = tf.image.resize(image, size, antialias=True) / 255.0
    if "brightness" in augment:
        x = tf.image.stateless_random_brightness(
            x, MAX_BRIGHTNESS_DELTA, shift_seed
        )
        x = tf.clip_by_value(x, 0.0, 1.0)
    if "flip" in augment:
        x = tf.image.stateless_random_flip_left_right(x, flip_seed)
    if normalize == "imagenet":
        return (x - IMAGENET_MEAN) / IMAGENET_STD
    return x * 255.0 if normalize is None else x


def check_preprocessing(size, normalize, augment):
    """Checks `preprocess_image` arguments; returns the augmentation names."""
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise ValueError(f"size must be (height, width). Received: {size=}")
    _checks.positive_ints("size", list(size))
    _checks.one_of("normalize", normalize, NORMALIZATIONS)
    if augment is True:
        return DEFAULT_AUGMENTATIONS
    names = tuple(augment or ())
    for name in names:
        _checks.one_of("augment", name, AUGMENTATIONS)
    return names


def _random_crop(image, seed, size_seed):
    shape = tf.shape(image)
    side = tf.random.stateless_uniform([], size_seed, MIN_CROP_SIDE, 1.0)
    crop = tf.cast(tf.cast(shape[:2], tf.float32) * side, tf.int32)
    crop = tf.maximum(crop, 1)
    return tf.image.stateless_random_crop(
        image, tf.concat([crop, shape[2:]], 0), seed
    )
