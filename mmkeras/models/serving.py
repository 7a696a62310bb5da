"""`Serving`: what a task exports and serves. Each family subclasses it in
its folder and its task names it as `serving_cls`; `mmkeras.export`, the
`mmkeras predict` command (`predict`) and export verification go through
it only."""

import abc
import functools
import re

import numpy as np
import tensorflow as tf

from mmkeras.layers import ImageConverter
from mmkeras.models import _serving_inputs
from mmkeras.models._serving_inputs import IMAGE_FORMATS

# Example texts draw this many words from the tokenizer's vocabulary.
_MAX_EXAMPLE_WORDS = 12


class ExportError(ValueError):
    """A model that cannot be exported, or an artifact that fails
    verification."""


class RequestError(ValueError):
    """A serving request that lacks what the family needs (an image, a
    question, one text per image), or gives what it cannot use."""


def refuse_unused(owner, **inputs):
    """Raises a `RequestError` for any of `inputs` that is given: a
    question sent to a captioner, or a sampler to a classifier, must not
    be dropped silently."""
    for name, value in inputs.items():
        if value:
            raise RequestError(
                f"{owner} takes no {name} (--{name.rstrip('s')}); leave it "
                f"out. Received: {name}={value!r}"
            )


def read_images(paths):
    """The bytes of each image file, checked here: an empty file, or one
    TensorFlow cannot decode, is a `RequestError` naming it."""
    images = []
    for path in paths:
        with open(path, "rb") as file:
            data = file.read()
        if not data:
            raise RequestError(
                f"{path} is empty: give a {IMAGE_FORMATS} image file"
            )
        try:
            tf.io.decode_image(data, channels=3, expand_animations=False)
        except tf.errors.InvalidArgumentError as error:
            reason = _op_message(error)
            raise RequestError(
                f"{path} is not an image TensorFlow can read ({reason}); "
                f"give a {IMAGE_FORMATS} image file"
            ) from None
        images.append(data)
    return images


def _op_message(error):
    """A TensorFlow error's own words, without the op and function names
    around them."""
    message = error.message.splitlines()[0]
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", message)
    return re.sub(r"\s*\[Op:\w+\]$", "", message).rstrip(".")


def decode_images(image_bytes, preprocessor):
    """Encoded images `string[N]` (JPEG, PNG, GIF, BMP or WebP) to the
    model's pixels, through its preprocessor's image converter. Bytes
    that are not an image fail naming their index."""
    converter = preprocessor.image_converter

    def decode(data):
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
        _serving_inputs.image_headers(image_bytes),
        fn_output_signature=tf.TensorSpec((*size, 3), tf.float32),
    )


def same_length(first_name, first, second_name, second):
    tf.debugging.assert_equal(
        tf.size(first),
        tf.size(second),
        message=f"{first_name} and {second_name} must hold the same number "
        "of examples",
    )


def predict(
    model, images=(), question=None, texts=(), sampler=None, entry=None
):
    """What `mmkeras predict` prints: the default signature of `model`'s
    serving (or, for a pretrained encoder of the zoo, what it gives: the
    ImageNet classes, sentence embeddings) run on image files and the
    command line's values, one JSON-ready dict per image (or text).

    Args:
        model: a task model, or an image or text encoder (`mmkeras.zoo.
            load("efficientnet_lite0.imagenet")`).
        images: paths of image files.
        question: the question, for a VQA model.
        texts: a text per image (fusion), candidate texts (dual encoder)
            or the texts to embed (text encoder).
        sampler: how a generating model decodes (a `mmkeras.samplers`
            name); refused by the others.
        entry: the zoo entry `model` was loaded from, whose `vocab.txt`
            tokenizes a pretrained text encoder's texts.

    Raises:
        RequestError: a file that is not an image, or inputs the model
            cannot use or lacks.

    Example:

    >>> model = mmkeras.zoo.load("efficientnet_lite0.imagenet")
    >>> mmkeras.models.serving.predict(model, ["cat.png"])[0]["top5"][0]
    {'index': 285, 'class': 'Egyptian_cat', 'probability': 0.788...}
    """
    if getattr(type(model), "serving_cls", None) is None:
        from mmkeras.models import tower_serving

        return tower_serving.for_encoder(model, entry).predict(
            images, question=question, texts=texts, sampler=sampler
        )
    options = {} if sampler is None else {"sampler": sampler}
    return model.serving(**options).predict(
        images, question=question, texts=texts
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

    Subclasses make every signature and graph with `signature(specs)`,
    which checks the inputs first (see `mmkeras.models._serving_inputs`),
    and give the range of each integer input in `id_limits()`.
    """

    # The signature TF Serving runs when a request names none.
    default_signature = None
    # True for a family that pads tokenized text to a static length of
    # its own (a causal LM's prompts, left-padded): its tokenizer may
    # give ragged ids. The others need the tokenizer's sequence_length.
    pads_text = False

    def __init__(self, model, **options):
        # Only generating models take one: a sampler.
        refuse_unused(type(model).__name__, **options)
        self.model = model
        shapes = model.input_shapes()
        # None for a model without images (a language model).
        self.image_shape = shapes.get("image")
        self.image_size = self.image_shape and tuple(self.image_shape[1:3])
        self.preprocessor = model.preprocessor
        self.tokenizer = model.tokenizer
        tokenizer = self.tokenizer
        if (
            tokenizer is not None
            and not self.pads_text
            and tokenizer.sequence_length is None
        ):
            raise ExportError(
                "the model's tokenizer must have a sequence_length, so "
                "exported token ids have a fixed length. Received: "
                "tokenizer.sequence_length=None"
            )

    def signature(self, specs):
        """Decorator: the function as a `tf.function` over `specs` (named
        `tf.TensorSpec`s) that first checks each input: shape, a batch
        that is not empty, UTF-8 text, image file headers, integers in
        their `id_limits()` range."""
        specs = list(specs)
        limits = self.id_limits()
        for spec in specs:
            if spec.dtype.is_integer and spec.name not in limits:
                raise ExportError(
                    f"{type(self).__name__} gives no range for its integer "
                    f"input {spec.name!r}: add it to id_limits()"
                )

        def decorate(body):
            @functools.wraps(body)
            def checked(*args):
                values = [
                    _serving_inputs.checked(spec, value, limits.get(spec.name))
                    for spec, value in zip(specs, args, strict=True)
                ]
                return body(*values)

            return tf.function(checked, autograph=False, input_signature=specs)

        return decorate

    def id_limits(self):
        """`{input name: n}`: the integer inputs of the signatures and
        graphs, each refused outside `[0, n)` (token ids: the vocabulary
        size)."""
        return {}

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
        return {"image_bytes": self.images(image_bytes)}

    def images(self, image_bytes):
        """`image_bytes` as a list, refused when empty."""
        images = list(image_bytes)
        if not images:
            raise RequestError(
                f"{type(self.model).__name__} takes images: give at least "
                "one with --image"
            )
        return images

    def predict(self, image_paths, question=None, texts=()):
        """The default signature on image files: a dict per image with its
        path and every output (see `mmkeras.models.serving.predict`)."""
        name = self.default_signature
        functions = self.functions()
        if name not in functions:
            raise RequestError(
                f"this {type(self.model).__name__} has no tokenizer or "
                "label names, so it cannot take text or give names; give it "
                "tokenizer= (and answers= or class_names=) when building it"
            )
        inputs = self.request(
            read_images(image_paths), question=question, texts=texts
        )
        # Positional: the Python parameter names differ from the inputs'.
        outputs = functions[name](*inputs.values())
        results = []
        for i, path in enumerate(image_paths):
            result = {"image": str(path)}
            for key, value in outputs.items():
                item = value.numpy()[i]
                result[key] = (
                    item.decode() if isinstance(item, bytes) else item.tolist()
                )
            results.append(result)
        return results

    def onnx_config(self):
        """What the ONNX consumer needs besides the graphs: how to convert
        images (the `ImageConverter`'s size, scale and offset), how to
        tokenize text (`tokenizer`, with `onnx_files()`'s vocabulary) and
        family settings (a generator's special tokens, class names)."""
        config = {"model": type(self.model).__name__}
        if self.image_size is not None:
            config["image_size"] = list(self.image_size)
            if self.preprocessor is not None:
                converter = self.preprocessor.image_converter
                config["image_scale"] = converter.scale
                config["image_offset"] = converter.offset
        if self.tokenizer is not None:
            config["tokenizer"] = self.tokenizer_config()
        return config

    def tokenizer_config(self):
        """`onnx_config()["tokenizer"]`: the WordPiece tokenizer's
        settings, its vocabulary in `vocabulary.txt`. A family with
        another tokenizer overrides it and `onnx_files()`."""
        tokenizer = self.tokenizer
        return {
            "vocabulary": "vocabulary.txt",
            "sequence_length": tokenizer.sequence_length,
            "lowercase": tokenizer.lowercase,
            "add_start_end": tokenizer.add_start_end,
            "suffix_indicator": tokenizer.suffix_indicator,
            "unknown_token": tokenizer.special_tokens["unknown"],
            "pad_token_id": tokenizer.pad_token_id,
            "start_token_id": tokenizer.start_token_id,
            "end_token_id": tokenizer.end_token_id,
        }

    def onnx_files(self):
        """`{file name: lines}` written beside the ONNX graphs: the
        tokenizer's vocabulary, one token per line."""
        if self.tokenizer is None:
            return {}
        return {"vocabulary.txt": self.tokenizer.get_vocabulary()}

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
