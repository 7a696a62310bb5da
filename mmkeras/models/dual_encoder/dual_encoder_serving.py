import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras import _checks
from mmkeras.models.embedding_serving import EMBEDDING_SIGNATURES
from mmkeras.models.embedding_serving import EmbeddingSignatures
from mmkeras.models.serving import ExportError
from mmkeras.models.serving import RequestError
from mmkeras.models.serving import Serving
from mmkeras.models.serving import refuse_unused


class DualEncoderServing(EmbeddingSignatures, Serving):
    """Export of `DualEncoder`: embeddings and scores from image bytes and
    text (`encode_image`, `encode_text`, `score`) with a tokenizer, and
    embeddings from pixels and token ids (`image_embeddings`,
    `text_embeddings`) always.

    Options: `index`, a `RetrievalIndex` built by this model, adds the
    string signature `retrieve`: texts (for an image index) or image
    bytes (for a text index) to the `top_k` best keys of the index,
    embedded in the graph, and their cosines (`top_k` defaults to 5, or
    the index's size if smaller)."""

    default_signature = "score"

    def __init__(self, model, index=None, top_k=None, **options):
        super().__init__(model, **options)
        self.text_length = model.input_shapes()["token_ids"][1]
        self.index, self.top_k = _checked_index(self, index, top_k)

    def id_limits(self):
        return {"token_ids": self.model.text_encoder.vocabulary_size}

    def functions(self):
        functions = self.embedding_functions()
        if self.tokenizer is None:
            return functions
        model = self.model
        text_spec = tf.TensorSpec([None], tf.string, name="text")

        @self.signature([self.bytes_spec(), text_spec])
        def score(image_bytes, text):
            return {
                "scores": model.score(
                    self.decode(image_bytes), self.tokenize(text)
                )
            }

        functions["score"] = score
        if self.index is not None:
            functions["retrieve"] = self._retrieve(text_spec)
        return functions

    def _retrieve(self, text_spec):
        index, top_k, model = self.index, self.top_k, self.model
        if index.side == "image":
            spec = text_spec

            def embed(text):
                return model.encode_text(self.tokenize(text))

        else:
            spec = self.bytes_spec()

            def embed(image_bytes):
                return model.encode_image(self.decode(image_bytes))

        @self.signature([spec])
        def retrieve(query):
            # Constants in the graph: the SavedModel carries the index.
            keys = tf.constant(index.keys.astype(object))
            embeddings = tf.constant(index.embeddings)
            scores = tf.matmul(embed(query), embeddings, transpose_b=True)
            scores, order = tf.math.top_k(scores, top_k)
            return {"keys": tf.gather(keys, order), "scores": scores}

        return retrieve

    def onnx_functions(self):
        return self.embedding_onnx_functions()

    def onnx_config(self):
        config = super().onnx_config()
        if self.tokenizer is not None:
            # run_onnx.py --image --text scores, as the score signature.
            config["request"] = {"task": "score"}
        return config

    def examples(self, batch_size, seed):
        examples = self.embedding_examples(batch_size, seed)
        if self.tokenizer is None:
            return examples
        rng = np.random.default_rng(seed + 1)
        _, encoded = self.example_images(batch_size, rng)
        # One text more than images: scores are (images, texts).
        texts = self.example_texts(batch_size + 1, rng)
        examples["score"] = {"image_bytes": encoded, "text": texts}
        if self.index is not None:
            examples["retrieve"] = (
                {"text": texts}
                if self.index.side == "image"
                else {"image_bytes": encoded}
            )
        return examples

    def reference(self, name, inputs):
        if name in EMBEDDING_SIGNATURES:
            return self.embedding_reference(name, inputs)
        model = self.model
        if name == "retrieve":
            if "text" in inputs:
                query = model.encode_text(self.tokenize(list(inputs["text"])))
            else:
                query = model.encode_image(
                    self.pixels_of(inputs["image_bytes"])
                )
            keys, scores = self.index.search_embeddings(
                ops.convert_to_numpy(query), self.top_k
            )
            return {
                "keys": np.array(
                    [k.encode() for k in keys.ravel()], object
                ).reshape(keys.shape),
                "scores": scores,
            }
        return {
            "scores": ops.convert_to_numpy(
                model.score(
                    self.pixels_of(inputs["image_bytes"]),
                    self.tokenize(list(inputs["text"])),
                )
            )
        }

    def request(self, image_bytes, question=None, texts=()):
        refuse_unused("a dual encoder", question=question)
        if not texts:
            raise RequestError(
                "a dual encoder scores each image against texts: give the "
                "candidate texts with --text (repeatable). Received: no text"
            )
        return {"image_bytes": self.images(image_bytes), "text": list(texts)}


def _checked_index(serving, index, top_k):
    """`(index, top_k)` for the `retrieve` signature, checked."""
    if index is None:
        if top_k is not None:
            raise ExportError(
                "top_k is the number of hits of the retrieve signature, "
                "which needs an index: give index= too (a RetrievalIndex; "
                "`mmkeras export --index FILE`). "
                f"Received: top_k={top_k!r}, index=None"
            )
        return None, None
    # Imported here: the index module imports the DualEncoder, which
    # imports this module.
    from mmkeras.models.dual_encoder.retrieval_index import RetrievalIndex

    if not isinstance(index, RetrievalIndex):
        raise TypeError(
            "index must be a RetrievalIndex (RetrievalIndex.load(path, "
            f"model)). Received: a {type(index).__name__}"
        )
    if serving.tokenizer is None:
        raise ExportError(
            "the retrieve signature takes text or image bytes, so the "
            "model needs a preprocessor with a tokenizer. Received: none"
        )
    index.check_model(serving.model)
    if top_k is None:
        top_k = min(5, len(index))
    _checks.positive_int("top_k", top_k)
    if top_k > len(index):
        raise ExportError(
            f"top_k must be at most the index's size ({len(index)} "
            f"{index.side}s). Received: top_k={top_k}"
        )
    return index, top_k
