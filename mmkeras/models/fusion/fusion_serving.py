from mmkeras.models.classifier_serving import ClassifierServing
from mmkeras.models.serving import RequestError
from mmkeras.models.serving import refuse_unused


class FusionServing(ClassifierServing):
    """Export of `FusionClassifier`: `classify` (image bytes and one text
    per image in; the class name and every class's probability out) with
    a tokenizer and class names, and `logits` (pixels and token ids in)
    always."""

    default_signature = "classify"
    text_key = "token_ids"
    text_name = "text"
    names_attribute = "class_names"
    label_output = "label"
    score_outputs = {"probabilities": "all"}

    def request(self, image_bytes, question=None, texts=()):
        refuse_unused("a fusion classifier", question=question)
        images, texts = self.images(image_bytes), list(texts)
        if len(texts) != len(images):
            raise RequestError(
                "a fusion classifier takes one text per image: give one "
                f"--text per --image. Received: {len(images)} image(s) and "
                f"{len(texts)} text(s)"
            )
        return {"image_bytes": images, self.text_name: texts}
