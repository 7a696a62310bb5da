"""Export of `VQAModel` and `FusionClassifier`: named classes (answers,
labels) from image bytes and text, and logits from tensors."""

import abc

import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras.export._family import Family
from mmkeras.export._family import same_length


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
        @tf.function(autograph=False, input_signature=self.tensor_inputs())
        def logits(image, ids):
            return {"logits": self._logits(image, ids)}

        functions = {"logits": logits}
        if self.tokenizer is not None and self.names is not None:
            names = tf.constant(self.names)

            @tf.function(
                autograph=False,
                input_signature=[
                    self.bytes_spec(),
                    tf.TensorSpec([None], tf.string, name=self.text_name),
                ],
            )
            def classify(image_bytes, text):
                same_length("image_bytes", image_bytes, self.text_name, text)
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

    @abc.abstractmethod
    def scores(self, probabilities):
        """The string signature's score outputs from the probabilities."""


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
