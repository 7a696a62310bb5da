import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras.models.serving import RequestError
from mmkeras.models.serving import Serving
from mmkeras.models.serving import refuse_unused


class DualEncoderServing(Serving):
    """Export of `DualEncoder`: embeddings and scores from image bytes and
    text (`encode_image`, `encode_text`, `score`) with a tokenizer, and
    embeddings from pixels and token ids (`image_embeddings`,
    `text_embeddings`) always."""

    default_signature = "score"

    def __init__(self, model, **options):
        super().__init__(model, **options)
        self.text_length = model.input_shapes()["token_ids"][1]

    def id_limits(self):
        return {"token_ids": self.model.text_encoder.vocabulary_size}

    def functions(self):
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
        text_spec = tf.TensorSpec([None], tf.string, name="text")

        @self.signature([self.bytes_spec()])
        def encode_image(image_bytes):
            return {"embeddings": model.encode_image(self.decode(image_bytes))}

        @self.signature([text_spec])
        def encode_text(text):
            return {"embeddings": model.encode_text(self.tokenize(text))}

        @self.signature([self.bytes_spec(), text_spec])
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

    def onnx_config(self):
        config = super().onnx_config()
        if self.tokenizer is not None:
            # run_onnx.py --image --text scores, as the score signature.
            config["request"] = {"task": "score"}
        return config

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

    def request(self, image_bytes, question=None, texts=()):
        refuse_unused("a dual encoder", question=question)
        if not texts:
            raise RequestError(
                "a dual encoder scores each image against texts: give the "
                "candidate texts with --text (repeatable). Received: no text"
            )
        return {"image_bytes": self.images(image_bytes), "text": list(texts)}
