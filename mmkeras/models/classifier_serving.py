"""`ClassifierServing`: the serving base of the classifiers over named
classes (`VQAModel`'s answers, `FusionClassifier`'s labels). Each family
subclasses it in its own folder; it lives here so that neither family's
folder imports the other's."""

import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras.models.serving import ExportError
from mmkeras.models.serving import Serving
from mmkeras.models.serving import same_length


class ClassifierServing(Serving):
    """Logits over named classes from an image and a text.

    Signatures: `logits` (converted pixels and token ids in, logits out)
    always, and the subclass's `default_signature` (image bytes and one
    UTF-8 text per image in, the class name and scores out) when the model
    has a preprocessor with a tokenizer and class names.

    Subclasses set `text_key` (the model's token-ids input), `text_name`
    (the string input of the string signature), `names_attribute` (the
    model's attribute listing its class names), `label_output` (the string
    signature's class-name output) and `score_outputs` (`{output: "max"}`
    for the best class's probability, `{output: "all"}` for every class's).
    """

    text_key = None
    text_name = None
    names_attribute = None
    label_output = None
    score_outputs = None

    def __init__(self, model, **options):
        super().__init__(model, **options)
        self.text_length = model.input_shapes()[self.text_key][1]
        self.names = getattr(model, self.names_attribute)

    def tensor_inputs(self):
        return [
            self.images_spec(),
            tf.TensorSpec([None, self.text_length], tf.int32, self.text_key),
        ]

    def logits(self, image, text):
        """The model's logits for converted pixels and token ids."""
        return self.model({"image": image, self.text_key: text})

    def has_string_signature(self):
        return self.tokenizer is not None and self.names is not None

    def id_limits(self):
        if self.text_key == "question_encoding":
            return {}
        return {self.text_key: self.model.text_encoder.vocabulary_size}

    def functions(self):
        @self.signature(self.tensor_inputs())
        def logits(image, ids):
            return {"logits": self.logits(image, ids)}

        functions = {"logits": logits}
        if self.has_string_signature():
            names = tf.constant(self.names)

            @self.signature(
                [
                    self.bytes_spec(),
                    tf.TensorSpec([None], tf.string, name=self.text_name),
                ]
            )
            def classify(image_bytes, text):
                same_length("image_bytes", image_bytes, self.text_name, text)
                logits = self.logits(
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

    def onnx_config(self):
        """With a tokenizer and class names, how `run_onnx.py` answers as
        the string signature does: the graph's text input, the class
        names' file and the score outputs."""
        config = super().onnx_config()
        if self.has_string_signature():
            config["labels"] = "labels.txt"
            config["request"] = {
                "task": "classify",
                "graph": "logits",
                "text_input": self.text_key,
                "text_flag": self.text_name,
                "label_output": self.label_output,
                "scores": self.score_outputs,
            }
        return config

    def onnx_files(self):
        files = super().onnx_files()
        if self.has_string_signature():
            if any("\n" in name for name in self.names):
                raise ExportError(
                    f"{self.names_attribute} are written one per line for "
                    "the ONNX consumer; remove the line break from "
                    f"{[n for n in self.names if chr(10) in n]}"
                )
            files["labels.txt"] = list(self.names)
        return files

    def examples(self, batch_size, seed):
        rng = np.random.default_rng(seed)
        pixels, encoded = self.example_images(batch_size, rng)
        vocabulary = self.model.text_encoder.vocabulary_size
        ids = self.example_ids(batch_size, rng, self.text_length, vocabulary)
        examples = {"logits": {"image": pixels, self.text_key: ids}}
        if self.has_string_signature():
            examples[self.default_signature] = {
                "image_bytes": encoded,
                self.text_name: self.example_texts(batch_size, rng),
            }
        return examples

    def reference(self, name, inputs):
        if name == "logits":
            logits = self.logits(inputs["image"], inputs[self.text_key])
            return {"logits": ops.convert_to_numpy(logits)}
        logits = self.logits(
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
        """The string signature's score outputs from the probabilities, as
        `score_outputs` names them."""
        return {
            name: ops.max(probabilities, axis=-1)
            if how == "max"
            else probabilities
            for name, how in self.score_outputs.items()
        }
