import keras
from keras import ops

from mmkeras import _checks

INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area")


@keras.saving.register_keras_serializable(package="mmkeras")
class ImageConverter(keras.layers.Layer):
    """Raw images to the pixels a model takes: the one owner of resizing
    and of the uint8 -> float conversion in mmkeras.

    Input images are uint8 in [0, 255] or floats in [0, 1] (the mmkeras
    convention: `mmkeras.data` and the exported tensor signatures use
    it), `(height, width, channels)` or batched. The output is float32
    `unit * scale + offset`, where `unit` is the image in [0, 1] resized
    to `image_size`. A model that wants [0, 255] (EfficientNet-Lite) says
    so with `scale=255` in its converter, never in its callers.

    Args:
        image_size: `(height, width)` of the output, or None to keep the
            input's size.
        scale: a number, or one per channel, multiplying the [0, 1] image.
        offset: a number, or one per channel, added after scaling.
        interpolation: the resize method, one of `INTERPOLATIONS`.
        antialias: antialias when downsampling (as
            `mmkeras.data.preprocess_image` does).

    Example:

    >>> converter = mmkeras.layers.ImageConverter(image_size=(32, 32))
    >>> converter(np.full((2, 64, 48, 3), 255, "uint8")).shape
    TensorShape([2, 32, 32, 3])
    >>> imagenet = mmkeras.layers.ImageConverter(
    ...     scale=(1 / 0.229, 1 / 0.224, 1 / 0.225),
    ...     offset=(-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225))
    """

    def __init__(
        self,
        image_size=None,
        scale=1.0,
        offset=0.0,
        interpolation="bilinear",
        antialias=True,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        image_size = _checks.optional_image_size("image_size", image_size)
        _check_numbers("scale", scale)
        _check_numbers("offset", offset)
        _checks.one_of("interpolation", interpolation, INTERPOLATIONS)
        self.image_size = image_size
        self.scale = _plain(scale)
        self.offset = _plain(offset)
        self.interpolation = interpolation
        self.antialias = antialias
        self.built = True

    def call(self, images):
        is_uint8 = keras.backend.standardize_dtype(images.dtype) == "uint8"
        images = ops.cast(images, "float32")
        if is_uint8:
            images = images / 255.0
        if self._needs_resize(images.shape):
            images = ops.image.resize(
                images,
                self.image_size,
                interpolation=self.interpolation,
                antialias=self.antialias,
            )
            # Antialiasing and bicubic kernels overshoot [0, 1] slightly;
            # converted pixels must stay valid converter inputs.
            images = ops.clip(images, 0.0, 1.0)
        return images * _constant(self.scale) + _constant(self.offset)

    def _needs_resize(self, shape):
        if self.image_size is None:
            return False
        return tuple(shape[-3:-1]) != self.image_size

    def output_size(self, input_size=None):
        """`(height, width)` of the converted images of `input_size`."""
        return self.image_size or tuple(input_size)

    def compute_output_shape(self, input_shape):
        if self.image_size is None:
            return tuple(input_shape)
        return (*input_shape[:-3], *self.image_size, input_shape[-1])

    def compute_output_spec(self, images):
        return keras.KerasTensor(
            self.compute_output_shape(images.shape), "float32"
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_size": self.image_size,
                "scale": self.scale,
                "offset": self.offset,
                "interpolation": self.interpolation,
                "antialias": self.antialias,
            }
        )
        return config


def _check_numbers(name, value):
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(
            f"{name} must be a number or one number per channel. Received: "
            f"{name}={value!r}"
        )


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value]
    return float(value)


def _constant(value):
    return ops.convert_to_tensor(value, "float32")
