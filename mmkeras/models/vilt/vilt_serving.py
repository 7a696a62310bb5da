from mmkeras.models.classifier_serving import ClassifierServing
from mmkeras.models.embedding_serving import EMBEDDING_SIGNATURES
from mmkeras.models.embedding_serving import EmbeddingSignatures
from mmkeras.models.serving import RequestError
from mmkeras.models.serving import refuse_unused


class ViLTServing(EmbeddingSignatures, ClassifierServing):
    """Export of `ViLTPretrainer` as an image-text matcher: `match` (image
    bytes and one UTF-8 caption per image in; `"match"` or `"no match"`
    and the two probabilities out) with a tokenizer, and `logits`
    (pixels and token ids in, the ITM logits out) always; and the ITC
    embeddings (`EmbeddingSignatures`): `image_embeddings` and
    `text_embeddings` always, `encode_image` (image bytes) and
    `encode_text` (texts) with a tokenizer. ONNX: `logits` and the two
    tensor embedding graphs."""

    default_signature = "match"
    text_key = "token_ids"
    text_name = "text"
    names_attribute = "match_labels"
    label_output = "match"
    score_outputs = {"probabilities": "all"}

    def logits(self, image, text):
        return self.model.itm_logits(image, text)

    def functions(self):
        return {**super().functions(), **self.embedding_functions()}

    def onnx_functions(self):
        return {**super().onnx_functions(), **self.embedding_onnx_functions()}

    def examples(self, batch_size, seed):
        return {
            **super().examples(batch_size, seed),
            **self.embedding_examples(batch_size, seed + 1),
        }

    def reference(self, name, inputs):
        if name in EMBEDDING_SIGNATURES:
            return self.embedding_reference(name, inputs)
        return super().reference(name, inputs)

    def request(self, image_bytes, question=None, texts=()):
        refuse_unused("a ViLT matcher", question=question)
        images, texts = self.images(image_bytes), list(texts)
        if len(texts) != len(images):
            raise RequestError(
                "a ViLT matcher scores each image with its caption: give "
                f"one --text per --image. Received: {len(images)} image(s) "
                f"and {len(texts)} text(s)"
            )
        return {"image_bytes": images, self.text_name: texts}
