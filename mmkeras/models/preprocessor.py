import keras
import tensorflow as tf

from mmkeras.layers import ImageConverter


@keras.saving.register_keras_serializable(package="mmkeras")
class Preprocessor(keras.layers.Layer):
    """Raw examples to a task's inputs: an image converter and a tokenizer.

    A task's preprocessor is the one path from what users hold (decoded
    images, strings) to what the model takes (converted pixels, token
    ids). It is saved inside the task's `.keras` file and runs in
    `tf.data` pipelines (`Task.fit`, `evaluate`, `predict`), in
    `generate`, in `explain` and in the exported string signatures.

    Each family subclasses it and implements `call(x, y=None,
    sample_weight=None)`, returning what `keras.Model.fit` takes: `x`,
    `(x, y)` or `(x, y, sample_weight)`.

    Args:
        image_converter: an `mmkeras.layers.ImageConverter`; default one
            that keeps the size and scales to [0, 1].
        tokenizer: a tokenizer layer (`mmkeras.text`), or None for models
            that take token ids only.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "call" not in vars(cls) and Preprocessor in cls.__bases__:
            raise TypeError(
                f"{cls.__name__} subclasses Preprocessor but lacks "
                "call(x, y=None, sample_weight=None)"
            )

    def __init__(self, image_converter=None, tokenizer=None, **kwargs):
        super().__init__(**kwargs)
        # Strings and Python values are inputs too.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.image_converter = image_converter or ImageConverter()
        self.tokenizer = tokenizer
        self.built = True

    def convert_images(self, images):
        """uint8 or [0, 1] float images to the model's pixels."""
        images = tf.convert_to_tensor(images)
        _check_range(images)
        return self.image_converter(images)

    def tokenize(self, text):
        """Strings to token ids with the tokenizer."""
        if self.tokenizer is None:
            raise ValueError(
                f"{type(self).__name__} has no tokenizer, so it takes token "
                "ids, not text; build it with tokenizer=. Received: "
                "tokenizer=None"
            )
        return tf.cast(self.tokenizer(text), tf.int32)

    def detokenize(self, token_ids):
        """Token ids to Python strings."""
        if self.tokenizer is None:
            raise ValueError(
                f"{type(self).__name__} has no tokenizer to turn ids into "
                "text; build it with tokenizer=. Received: tokenizer=None"
            )
        texts = self.tokenizer.detokenize(token_ids)
        return [text.decode() for text in keras.ops.convert_to_numpy(texts)]

    def get_config(self):
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            {
                "image_converter": serialize(self.image_converter),
                "tokenizer": serialize(self.tokenizer),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("image_converter", "tokenizer"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _check_range(images):
    """Float images must be in [0, 1]: [0, 255] floats would be scaled
    again and give a silent wrong answer."""
    if images.dtype == tf.uint8:
        return
    if not images.dtype.is_floating:
        raise TypeError(
            "images must be uint8 in [0, 255] or floats in [0, 1]. "
            f"Received: dtype={images.dtype.name}"
        )
    message = (
        "float images must be in [0, 1]; divide [0, 255] floats by 255 or "
        "pass uint8 pixels"
    )
    low, high = tf.reduce_min(images), tf.reduce_max(images)
    if tf.executing_eagerly():
        if tf.size(images) and not 0.0 <= float(low) <= float(high) <= 1.0:
            raise ValueError(
                f"{message}. Received: values from {float(low):g} to "
                f"{float(high):g}"
            )
        return
    zero, one = tf.constant(0, images.dtype), tf.constant(1, images.dtype)
    tf.debugging.assert_greater_equal(low, zero, message=message)
    tf.debugging.assert_less_equal(high, one, message=message)
