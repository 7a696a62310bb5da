import keras
import tensorflow as tf

from mmkeras import _checks
from mmkeras.models.preprocessor import Preprocessor

QUESTION_INPUTS = ("tokens", "encoding")


@keras.saving.register_keras_serializable(package="mmkeras")
class VQAPreprocessor(Preprocessor):
    """Raw VQA examples to `VQAModel` inputs.

    Takes a dict (batched or not) as `mmkeras.data` gives it: `"image"`
    (uint8 in [0, 255] or floats in [0, 1]), `"question"` (strings) with
    `question_input="tokens"` or `"question_encoding"` (floats, e.g.
    Sort-of-CLEVR's 11-dim encoding) with `question_input="encoding"`, and
    optionally `"answer_id"` (the label). Returns `({"image": pixels,
    "question_ids": ids}, answer_id)` (or `"question_encoding"` in place
    of the ids): the image through the `image_converter`, the question
    through the `tokenizer` (give it a `sequence_length` so batches are
    dense). A label given as `y` wins over the dict's `"answer_id"`;
    without either, only the inputs.

    Args:
        image_converter: an `mmkeras.layers.ImageConverter`; default one
            that keeps the size and scales to [0, 1].
        tokenizer: the question tokenizer, e.g. an
            `mmkeras.text.WordPieceTokenizer` with a `sequence_length`;
            needed with `question_input="tokens"`, refused with
            `"encoding"`.
        question_input: `"tokens"` or `"encoding"`, as in `VQAModel`.

    Example:

    >>> questions = ["what is the shape of the red object?"] * 20
    >>> preprocessor = mmkeras.models.VQAPreprocessor(
    ...     mmkeras.layers.ImageConverter(image_size=(75, 75)),
    ...     mmkeras.text.WordPieceTokenizer(
    ...         mmkeras.text.build_vocabulary(questions, 100),
    ...         sequence_length=16))
    >>> ds = mmkeras.data.sort_of_clevr(8, seed=0, batch_size=4).map(
    ...     preprocessor)
    """

    def __init__(
        self,
        image_converter=None,
        tokenizer=None,
        question_input="tokens",
        **kwargs,
    ):
        super().__init__(image_converter, tokenizer, **kwargs)
        _checks.one_of("question_input", question_input, QUESTION_INPUTS)
        if (tokenizer is None) == (question_input == "tokens"):
            need = "a tokenizer" if tokenizer is None else "no tokenizer"
            raise ValueError(
                f"question_input={question_input!r} needs {need}. "
                f"Received: tokenizer={tokenizer!r}"
            )
        self.question_input = question_input

    def call(self, x, y=None, sample_weight=None):
        if y is None and "answer_id" in x:
            y = x["answer_id"]
        inputs = {"image": self.convert_images(x["image"])}
        if self.question_input == "tokens":
            inputs["question_ids"] = self.tokenize(x["question"])
        else:
            inputs["question_encoding"] = tf.cast(
                x["question_encoding"], tf.float32
            )
        return keras.utils.pack_x_y_sample_weight(inputs, y, sample_weight)

    def get_config(self):
        config = super().get_config()
        config["question_input"] = self.question_input
        return config
