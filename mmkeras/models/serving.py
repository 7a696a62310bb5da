"""`Serving`: what a task exports and serves. Each family subclasses it in
its folder and its task names it as `serving_cls`; `mmkeras.export`, the
`mmkeras predict` command and export verification go through it only."""

import abc

import numpy as np
import tensorflow as tf

from mmkeras.layers import ImageConverter

# Example texts draw this many words from the tokenizer's vocabulary.
_MAX_EXAMPLE_WORDS = 12


class ExportError(ValueError):
    """A model that cannot be exported, or an artifact that fails
    verification."""


class RequestError(ValueError):
    """A serving request that lacks what the family needs (a question,
    one text per image), or gives what it cannot use."""


def refuse_unused(owner, **inputs):
    """Raises a `RequestError` for any of `inputs` that is given: a
    question sent to a captioner must not be dropped silently."""
    for name, value in inputs.items():
        if value:
            raise RequestError(
                f"{owner} takes no {name} (--{name.rstrip('s')}); leave it "
                f"out. Received: {name}={value!r}"
            )


def decode_images(image_bytes, preprocessor):
    """Encoded images `string[N]` (JPEG, PNG, GIF or BMP) to the model's
    pixels, through its preprocessor's image converter."""
    converter = preprocessor.image_converter

    def decode(data):
        tf.debugging.assert_positive(
            tf.strings.length(data),
            message="image_bytes holds an empty string; send the bytes of "
            "a JPEG, PNG, GIF or BMP file",
        )
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        return converter(image[None])[0]

    size = converter.image_size
    if size is None:
        raise ExportError(
            "string signatures need a fixed image size: give the model's "
            "ImageConverter image_size=(height, width). Received: "
            "image_size=None"
        )
    return tf.map_fn(
        decode,
        image_bytes,
        fn_output_signature=tf.TensorSpec((*size, 3), tf.float32),
    )


def same_length(first_name, first, second_name, second):
    tf.debugging.assert_equal(
        tf.size(first),
        tf.size(second),
        message=f"{first_name} and {second_name} must hold the same number "
        "of examples",
    )


class Serving(abc.ABC):
    """The serving side of one task model.

    `functions()` are the SavedModel signatures by name (each a
    `tf.function` with an input signature returning a dict),
    `onnx_functions()` the graphs for tf2onnx, `examples()` inputs for
    every signature, `reference()` the Keras model's outputs for them and
    `request()` the default signature's inputs from command-line values.
    String signatures exist when the model has a preprocessor with a
    tokenizer; they decode images with its `ImageConverter`.
    """

    # The signature TF Serving runs when a request names none.
    default_signature = None

    def __init__(self, model, **options):
        if options:
            raise ExportError(
                f"{type(model).__name__} takes no serving options. "
                f"Received: {sorted(options)}"
            )
        self.model = model
        shapes = model.input_shapes()
        # None for a model without images (a language model).
        self.image_shape = shapes.get("image")
        self.image_size = self.image_shape and tuple(self.image_shape[1:3])
        self.preprocessor = model.preprocessor
        self.tokenizer = model.tokenizer
        tokenizer = self.tokenizer
        if tokenizer is not None and tokenizer.sequence_length is None:
            raise ExportError(
                "the model's tokenizer must have a sequence_length, so "
                "exported token ids have a fixed length. Received: "
                "tokenizer.sequence_length=None"
            )

    def images_spec(self):
        return tf.TensorSpec(self.image_shape, tf.float32, name="image")

    def bytes_spec(self, name="image_bytes"):
        return tf.TensorSpec([None], tf.string, name=name)

    def decode(self, image_bytes):
        return decode_images(image_bytes, self.preprocessor)

    def tokenize(self, text):
        return tf.cast(self.tokenizer(text), tf.int32)

    @abc.abstractmethod
    def functions(self):
        """`{signature name: tf.function}` for the SavedModel."""

    @abc.abstractmethod
    def onnx_functions(self):
        """`{graph name: tf.function}` for tf2onnx (tensors only)."""

    @abc.abstractmethod
    def examples(self, batch_size, seed):
        """`{name: {input: array}}` for every signature and graph."""

    @abc.abstractmethod
    def reference(self, name, inputs):
        """`{output: array}`: what the Keras model gives for `inputs`."""

    def request(self, image_bytes, question=None, texts=()):
        """The default signature's inputs, in its order, for the encoded
        images and the command line's `--question` / `--text` values."""
        refuse_unused(type(self.model).__name__, question=question, texts=texts)
        return {"image_bytes": list(image_bytes)}

    def onnx_config(self):
        """What the ONNX consumer needs besides the graphs: how to convert
        images (the `ImageConverter`'s size, scale and offset) and any
        family settings (a generator's special tokens)."""
        if self.image_size is None:
            return {}
        config = {"image_size": list(self.image_size)}
        if self.preprocessor is not None:
            converter = self.preprocessor.image_converter
            config["image_scale"] = converter.scale
            config["image_offset"] = converter.offset
        return config

    def example_images(self, batch_size, rng):
        """uint8 images of the model's size: pixels and PNG bytes (some of
        another size, so the resize in the graph runs)."""
        height, width = self.image_size
        pixels = rng.integers(0, 256, (batch_size, height, width, 3), "uint8")
        encoded = [
            tf.io.encode_png(
                image
                if i % 2 == 0
                else tf.image.resize(image, (height + 7, width + 3))
                .numpy()
                .astype("uint8")
            ).numpy()
            for i, image in enumerate(pixels)
        ]
        # Without a preprocessor the model takes [0, 1] pixels.
        converter = getattr(self.preprocessor, "image_converter", None)
        pixels = (converter or ImageConverter())(pixels).numpy()
        return pixels, np.array(encoded, object)

    def example_texts(self, batch_size, rng):
        words = [
            token
            for token in self.tokenizer.get_vocabulary()
            if token.isalpha() and token not in _special(self.tokenizer)
        ]
        texts = []
        for _ in range(batch_size):
            count = rng.integers(1, _MAX_EXAMPLE_WORDS + 1)
            texts.append(" ".join(rng.choice(words, count)).encode())
        return np.array(texts, object)

    def example_ids(self, batch_size, rng, length, vocabulary_size):
        """Token ids with 0-padding after a random length (at least 1)."""
        ids = rng.integers(1, vocabulary_size, (batch_size, length), "int32")
        lengths = rng.integers(1, length + 1, (batch_size, 1))
        return np.where(np.arange(length) < lengths, ids, 0).astype("int32")

    def pixels_of(self, image_bytes):
        return self.decode(tf.constant(list(image_bytes))).numpy()


def _special(tokenizer):
    return set(tokenizer.special_tokens.values())
