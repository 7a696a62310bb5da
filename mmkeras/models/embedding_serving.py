"""`EmbeddingSignatures`: the export signatures of a model's contrastive
embeddings, for any serving class whose model has `encode_image` and
`encode_text` (L2-normalised embeddings of images alone and of texts
alone)."""

import numpy as np
import tensorflow as tf
from keras import ops

EMBEDDING_SIGNATURES = (
    "image_embeddings",
    "text_embeddings",
    "encode_image",
    "encode_text",
)


class EmbeddingSignatures:
    """Mixin of a `Serving` subclass: `image_embeddings` (pixels in) and
    `text_embeddings` (token ids in) always, `encode_image` (image bytes)
    and `encode_text` (UTF-8 texts) with a tokenizer; each returns
    `{"embeddings": (batch, dim)}`. The class sets `text_length` (the
    token ids' length) and gives `token_ids` a range in `id_limits()`."""

    def embedding_functions(self):
        """`{name: tf.function}` of the embedding signatures."""
        model = self.model
        ids_spec = tf.TensorSpec(
            [None, self.text_length], tf.int32, name="token_ids"
        )

        @self.signature([self.images_spec()])
        def image_embeddings(image):
            return {"embeddings": model.encode_image(image)}

        @self.signature([ids_spec])
        def text_embeddings(token_ids):
            return {"embeddings": model.encode_text(token_ids)}

        functions = {
            "image_embeddings": image_embeddings,
            "text_embeddings": text_embeddings,
        }
        if self.tokenizer is None:
            return functions

        @self.signature([self.bytes_spec()])
        def encode_image(image_bytes):
            return {"embeddings": model.encode_image(self.decode(image_bytes))}

        @self.signature([tf.TensorSpec([None], tf.string, name="text")])
        def encode_text(text):
            return {"embeddings": model.encode_text(self.tokenize(text))}

        return {
            **functions,
            "encode_image": encode_image,
            "encode_text": encode_text,
        }

    def embedding_onnx_functions(self):
        """The tensor embedding graphs, for tf2onnx."""
        functions = self.embedding_functions()
        return {name: functions[name] for name in EMBEDDING_SIGNATURES[:2]}

    def embedding_examples(self, batch_size, seed):
        """`{name: {input: array}}` of the embedding signatures."""
        rng = np.random.default_rng(seed)
        pixels, encoded = self.example_images(batch_size, rng)
        vocabulary = self.id_limits()["token_ids"]
        ids = self.example_ids(batch_size, rng, self.text_length, vocabulary)
        examples = {
            "image_embeddings": {"image": pixels},
            "text_embeddings": {"token_ids": ids},
        }
        if self.tokenizer is not None:
            examples["encode_image"] = {"image_bytes": encoded}
            examples["encode_text"] = {
                "text": self.example_texts(batch_size, rng)
            }
        return examples

    def embedding_reference(self, name, inputs):
        """What the Keras model gives for the embedding signature `name`."""
        model = self.model
        if name == "image_embeddings":
            result = model.encode_image(inputs["image"])
        elif name == "text_embeddings":
            result = model.encode_text(inputs["token_ids"])
        elif name == "encode_image":
            result = model.encode_image(self.pixels_of(inputs["image_bytes"]))
        else:
            result = model.encode_text(self.tokenize(list(inputs["text"])))
        return {"embeddings": ops.convert_to_numpy(result)}
