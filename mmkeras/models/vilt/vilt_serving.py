from mmkeras.models.classifier_serving import ClassifierServing
from mmkeras.models.serving import RequestError
from mmkeras.models.serving import refuse_unused


class ViLTServing(ClassifierServing):
    """Export of `ViLTPretrainer` as an image-text matcher: `match` (image
    bytes and one UTF-8 caption per image in; `"match"` or `"no match"`
    and the two probabilities out) with a tokenizer, and `logits`
    (pixels and token ids in, the ITM logits out) always."""

    default_signature = "match"
    text_key = "token_ids"
    text_name = "text"
    names_attribute = "match_labels"
    label_output = "match"
    score_outputs = {"probabilities": "all"}

    def logits(self, image, text):
        return self.model.itm_logits(image, text)

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
