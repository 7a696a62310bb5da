"""What each task model exports: its serving functions, example inputs for
verification, and the Keras model's own outputs for those inputs.

Every family has string signatures (encoded image bytes and UTF-8 text in,
strings or scores out; decoding, tokenization and detokenization in the
graph) where the model carries a tokenizer, tensor signatures (pixels and
token ids) always, and ONNX graphs built from the tensor signatures.
Images in all signatures are float32 RGB in [0, 1], as
`mmkeras.data.preprocess_image` makes them.
"""

import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras import samplers
from mmkeras.data import preprocess_image
from mmkeras.models import DualEncoder
from mmkeras.models import FusionClassifier
from mmkeras.models import ImageCaptioner
from mmkeras.models import VQAModel

# Example texts draw this many words from the tokenizer's vocabulary.
_MAX_EXAMPLE_WORDS = 12


class ExportError(ValueError):
    """A model that cannot be exported, or an artifact that fails
    verification."""


def for_model(model, sampler="greedy"):
    """The `Family` of `model`; `sampler` decodes exported captions."""
    if isinstance(model, ImageCaptioner):
        return CaptionerFamily(model, sampler)
    for cls, family in _FAMILIES.items():
        if isinstance(model, cls):
            return family(model)
    names = ", ".join(cls.__name__ for cls in (ImageCaptioner, *_FAMILIES))
    raise ExportError(
        f"mmkeras exports {names} models. Received: a {type(model).__name__}"
    )


def decode_images(image_bytes, image_size):
    """Encoded images `string[N]` (JPEG, PNG, GIF or BMP) to float32 pixels
    `(N, height, width, 3)` in [0, 1], resized to `image_size`."""

    def decode(data):
        tf.debugging.assert_positive(
            tf.strings.length(data),
            message="image_bytes holds an empty string; send the bytes of "
            "a JPEG, PNG, GIF or BMP file",
        )
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        return preprocess_image(image, image_size)

    return tf.map_fn(
        decode,
        image_bytes,
        fn_output_signature=tf.TensorSpec((*image_size, 3), tf.float32),
    )


def _same_length(first_name, first, second_name, second):
    tf.debugging.assert_equal(
        tf.size(first),
        tf.size(second),
        message=f"{first_name} and {second_name} must hold the same number "
        "of examples",
    )


class Family:
    """The serving side of one task model.

    `functions()` are the SavedModel signatures by name (each a
    `tf.function` with an input signature returning a dict),
    `onnx_functions()` the graphs for tf2onnx, `examples()` inputs for
    every signature and `reference()` the Keras model's outputs for them.
    """

    # The signature TF Serving runs when a request names none.
    default_signature = None

    def __init__(self, model):
        self.model = model
        shapes = model.input_shapes()
        self.image_shape = shapes["image"]
        self.image_size = tuple(self.image_shape[1:3])
        self.tokenizer = getattr(model, "tokenizer", None)
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
        return decode_images(image_bytes, self.image_size)

    def tokenize(self, text):
        return tf.cast(self.tokenizer(text), tf.int32)

    def functions(self):
        raise NotImplementedError

    def onnx_functions(self):
        raise NotImplementedError

    def examples(self, batch_size, seed):
        raise NotImplementedError

    def reference(self, name, inputs):
        raise NotImplementedError

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
        return pixels.astype("float32") / 255.0, np.array(encoded, object)

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


class CaptionerFamily(Family):
    default_signature = "caption"

    def __init__(self, model, sampler="greedy"):
        super().__init__(model)
        self.sampler = samplers.get(sampler)

    def _generate(self, images):
        return self.model.generate_step(
            images, self.sampler, self.model.sequence_length
        )

    def functions(self):
        model = self.model

        @tf.function(
            input_signature=[
                self.images_spec(),
                tf.TensorSpec(
                    [None, model.sequence_length], tf.int32, name="token_ids"
                ),
            ]
        )
        def logits(image, token_ids):
            return {"logits": model({"image": image, "token_ids": token_ids})}

        @tf.function(input_signature=[self.images_spec()])
        def caption_ids(image):
            return {"token_ids": self._generate(image)}

        functions = {"logits": logits, "caption_ids": caption_ids}
        if self.tokenizer is not None:

            @tf.function(input_signature=[self.bytes_spec()])
            def caption(image_bytes):
                ids = self._generate(self.decode(image_bytes))
                return {"captions": model.tokenizer.detokenize(ids)}

            functions["caption"] = caption
        return functions

    def onnx_functions(self):
        model = self.model
        blocks = model.decoder_blocks
        length = model.sequence_length

        @tf.function(input_signature=[self.images_spec()])
        def encoder(image):
            cache = model.build_cache(image, length)
            return {"cross_cache": tf.stack(cache["cross"])}

        cross_shape = self._cross_cache_shape()
        self_shape = self._cross_cache_shape()
        self_shape[3] = length

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, 1], tf.int32, name="token_ids"),
                tf.TensorSpec([], tf.int32, name="index"),
                tf.TensorSpec(self_shape, tf.float32, name="past_self_cache"),
                tf.TensorSpec(cross_shape, tf.float32, name="cross_cache"),
            ]
        )
        def decoder_step(token_ids, index, past_self_cache, cross_cache):
            # ONNX names inputs and outputs alike, so past and present.
            cache = {
                "cross": tf.unstack(cross_cache, len(blocks)),
                "self": tf.unstack(past_self_cache, len(blocks)),
            }
            logits, cache = model.call_with_cache(token_ids, cache, index)
            never = tf.range(model.vocabulary_size) == model.pad_token_id
            return {
                "logits": tf.where(never, -1e9, logits[:, 0]),
                "present_self_cache": tf.stack(cache["self"]),
            }

        return {"encoder": encoder, "decoder_step": decoder_step}

    def _cross_cache_shape(self):
        """`(blocks, batch, 2, image tokens, heads, head_dim)`."""
        model = self.model
        image = tf.zeros((1, *self.image_shape[1:]))
        cross = model.build_cache(image, model.sequence_length)["cross"][0]
        return [len(model.decoder_blocks), None, *cross.shape[1:]]

    def onnx_config(self):
        """What `run_onnx.py` needs to decode greedily with the graphs."""
        model = self.model
        self_cache_shape = self._cross_cache_shape()
        self_cache_shape[3] = model.sequence_length
        special = {model.start_token_id, model.end_token_id}
        special.add(model.pad_token_id)
        if self.tokenizer is not None:
            special.update(
                self.tokenizer.token_to_id(token)
                for kind, token in self.tokenizer.special_tokens.items()
                if kind != "unknown"
                and token in self.tokenizer.get_vocabulary()
            )
        return {
            "start_token_id": model.start_token_id,
            "end_token_id": model.end_token_id,
            "pad_token_id": model.pad_token_id,
            "max_length": model.sequence_length,
            "self_cache_shape": self_cache_shape,
            "special_token_ids": sorted(special),
        }

    def examples(self, batch_size, seed):
        rng = np.random.default_rng(seed)
        pixels, encoded = self.example_images(batch_size, rng)
        ids = self.example_ids(
            batch_size,
            rng,
            self.model.sequence_length,
            self.model.vocabulary_size,
        )
        examples = {
            "logits": {"image": pixels, "token_ids": ids},
            "caption_ids": {"image": pixels},
            "encoder": {"image": pixels},
            "generate": {"image": pixels},
        }
        if self.tokenizer is not None:
            examples["caption"] = {"image_bytes": encoded}
        return examples

    def reference(self, name, inputs):
        model = self.model
        if name == "logits":
            return {"logits": ops.convert_to_numpy(model(inputs))}
        if name == "encoder":
            cache = model.build_cache(inputs["image"], model.sequence_length)
            return {"cross_cache": ops.convert_to_numpy(cache["cross"])}
        sampler = self.sampler if name == "caption_ids" else "greedy"
        if name == "caption":
            pixels = self.pixels_of(inputs["image_bytes"])
            captions = model.generate(pixels, self.sampler)
            return {
                "captions": np.array([c.encode() for c in captions], object)
            }
        ids = model.generate(inputs["image"], sampler, return_strings=False)
        return {"token_ids": ids}


class _ClassifierFamily(Family):
    """VQA and fusion classifiers: logits over named classes."""

    text_key = None  # the token-ids input of the model
    text_name = None  # the string input of the string signature
    names_attribute = None  # the model's list of class names
    label_output = None

    def __init__(self, model):
        super().__init__(model)
        self.text_length = model.input_shapes()[self.text_key][1]
        self.names = getattr(model, self.names_attribute)

    def tensor_inputs(self):
        return [
            self.images_spec(),
            tf.TensorSpec([None, self.text_length], tf.int32, self.text_key),
        ]

    def _logits(self, image, text):
        return self.model({"image": image, self.text_key: text})

    def functions(self):
        @tf.function(input_signature=self.tensor_inputs())
        def logits(image, ids):
            return {"logits": self._logits(image, ids)}

        functions = {"logits": logits}
        if self.tokenizer is not None and self.names is not None:
            names = tf.constant(self.names)

            @tf.function(
                input_signature=[
                    self.bytes_spec(),
                    tf.TensorSpec([None], tf.string, name=self.text_name),
                ]
            )
            def classify(image_bytes, text):
                _same_length("image_bytes", image_bytes, self.text_name, text)
                logits = self._logits(
                    self.decode(image_bytes), self.tokenize(text)
                )
                probabilities = tf.nn.softmax(logits)
                return {
                    self.label_output: tf.gather(
                        names, tf.argmax(logits, axis=-1)
                    ),
                    **self.scores(probabilities),
                }

            functions[self.default_signature] = classify
        return functions

    def onnx_functions(self):
        return {"logits": self.functions()["logits"]}

    def examples(self, batch_size, seed):
        rng = np.random.default_rng(seed)
        pixels, encoded = self.example_images(batch_size, rng)
        vocabulary = self.model.text_encoder.vocabulary_size
        ids = self.example_ids(batch_size, rng, self.text_length, vocabulary)
        examples = {"logits": {"image": pixels, self.text_key: ids}}
        if self.default_signature in self.functions():
            examples[self.default_signature] = {
                "image_bytes": encoded,
                self.text_name: self.example_texts(batch_size, rng),
            }
        return examples

    def reference(self, name, inputs):
        if name == "logits":
            logits = self._logits(inputs["image"], inputs[self.text_key])
            return {"logits": ops.convert_to_numpy(logits)}
        logits = self._logits(
            self.pixels_of(inputs["image_bytes"]),
            self.tokenize(list(inputs[self.text_name])),
        )
        probabilities = ops.convert_to_numpy(ops.softmax(logits))
        labels = [self.names[i].encode() for i in probabilities.argmax(-1)]
        return {
            self.label_output: np.array(labels, object),
            **{
                key: ops.convert_to_numpy(value)
                for key, value in self.scores(probabilities).items()
            },
        }

    def scores(self, probabilities):
        raise NotImplementedError


class VQAFamily(_ClassifierFamily):
    default_signature = "answer"
    text_key = "question_ids"
    text_name = "question"
    names_attribute = "answers"
    label_output = "answer"

    def __init__(self, model):
        if model.question_input != "tokens":
            self.text_key = "question_encoding"
        super().__init__(model)

    def tensor_inputs(self):
        if self.text_key == "question_encoding":
            return [
                self.images_spec(),
                tf.TensorSpec(
                    [None, self.text_length], tf.float32, self.text_key
                ),
            ]
        return super().tensor_inputs()

    def examples(self, batch_size, seed):
        if self.text_key != "question_encoding":
            return super().examples(batch_size, seed)
        rng = np.random.default_rng(seed)
        pixels, _ = self.example_images(batch_size, rng)
        encoding = rng.random((batch_size, self.text_length), "float32")
        return {"logits": {"image": pixels, self.text_key: encoding}}

    def scores(self, probabilities):
        return {"score": ops.max(probabilities, axis=-1)}


class FusionFamily(_ClassifierFamily):
    default_signature = "classify"
    text_key = "token_ids"
    text_name = "text"
    names_attribute = "class_names"
    label_output = "label"

    def scores(self, probabilities):
        return {"probabilities": probabilities}


class DualEncoderFamily(Family):
    default_signature = "score"

    def __init__(self, model):
        super().__init__(model)
        self.text_length = model.input_shapes()["token_ids"][1]

    def functions(self):
        model = self.model
        ids_spec = tf.TensorSpec(
            [None, self.text_length], tf.int32, name="token_ids"
        )

        @tf.function(input_signature=[self.images_spec()])
        def image_embeddings(image):
            return {"embeddings": model.encode_image(image)}

        @tf.function(input_signature=[ids_spec])
        def text_embeddings(token_ids):
            return {"embeddings": model.encode_text(token_ids)}

        functions = {
            "image_embeddings": image_embeddings,
            "text_embeddings": text_embeddings,
        }
        if self.tokenizer is None:
            return functions
        text_spec = tf.TensorSpec([None], tf.string, name="text")

        @tf.function(input_signature=[self.bytes_spec()])
        def encode_image(image_bytes):
            return {"embeddings": model.encode_image(self.decode(image_bytes))}

        @tf.function(input_signature=[text_spec])
        def encode_text(text):
            return {"embeddings": model.encode_text(self.tokenize(text))}

        @tf.function(input_signature=[self.bytes_spec(), text_spec])
        def score(image_bytes, text):
            return {
                "scores": model.score(
                    self.decode(image_bytes), self.tokenize(text)
                )
            }

        functions.update(
            encode_image=encode_image, encode_text=encode_text, score=score
        )
        return functions

    def onnx_functions(self):
        functions = self.functions()
        return {
            "image_embeddings": functions["image_embeddings"],
            "text_embeddings": functions["text_embeddings"],
        }

    def examples(self, batch_size, seed):
        rng = np.random.default_rng(seed)
        pixels, encoded = self.example_images(batch_size, rng)
        vocabulary = self.model.text_encoder.vocabulary_size
        ids = self.example_ids(batch_size, rng, self.text_length, vocabulary)
        examples = {
            "image_embeddings": {"image": pixels},
            "text_embeddings": {"token_ids": ids},
        }
        if self.tokenizer is not None:
            # One text more than images: scores are (images, texts).
            texts = self.example_texts(batch_size + 1, rng)
            examples.update(
                encode_image={"image_bytes": encoded},
                encode_text={"text": texts},
                score={"image_bytes": encoded, "text": texts},
            )
        return examples

    def reference(self, name, inputs):
        model = self.model
        if name == "image_embeddings":
            result = model.encode_image(inputs["image"])
        elif name == "text_embeddings":
            result = model.encode_text(inputs["token_ids"])
        elif name == "encode_image":
            result = model.encode_image(self.pixels_of(inputs["image_bytes"]))
        elif name == "encode_text":
            result = model.encode_text(self.tokenize(list(inputs["text"])))
        else:
            return {
                "scores": ops.convert_to_numpy(
                    model.score(
                        self.pixels_of(inputs["image_bytes"]),
                        self.tokenize(list(inputs["text"])),
                    )
                )
            }
        return {"embeddings": ops.convert_to_numpy(result)}


_FAMILIES = {
    VQAModel: VQAFamily,
    FusionClassifier: FusionFamily,
    DualEncoder: DualEncoderFamily,
}
