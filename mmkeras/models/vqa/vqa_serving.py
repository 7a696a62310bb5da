import numpy as np
import tensorflow as tf

from mmkeras.models.classifier_serving import ClassifierServing
from mmkeras.models.serving import RequestError
from mmkeras.models.serving import refuse_unused


class VQAServing(ClassifierServing):
    """Export of `VQAModel`: `answer` (image bytes and one question per
    image in; the answer and its probability out) with a tokenizer and
    answer names, and `logits` (pixels and question ids, or question
    encodings, in) always."""

    default_signature = "answer"
    text_key = "question_ids"
    text_name = "question"
    names_attribute = "answers"
    label_output = "answer"
    score_outputs = {"score": "max"}

    def __init__(self, model, **options):
        if model.question_input == "encoding":
            self.text_key = "question_encoding"
        super().__init__(model, **options)

    def tensor_inputs(self):
        if self.text_key != "question_encoding":
            return super().tensor_inputs()
        return [
            self.images_spec(),
            tf.TensorSpec([None, self.text_length], tf.float32, self.text_key),
        ]

    def examples(self, batch_size, seed):
        if self.text_key != "question_encoding":
            return super().examples(batch_size, seed)
        rng = np.random.default_rng(seed)
        pixels, _ = self.example_images(batch_size, rng)
        encoding = rng.random((batch_size, self.text_length), "float32")
        return {"logits": {"image": pixels, self.text_key: encoding}}

    def request(self, image_bytes, question=None, texts=()):
        refuse_unused("a VQA model", texts=texts)
        if not question:
            raise RequestError(
                "this model needs --question: a VQA model answers one "
                f"question about each image. Received: question={question!r}"
            )
        images = self.images(image_bytes)
        return {"image_bytes": images, self.text_name: [question] * len(images)}
