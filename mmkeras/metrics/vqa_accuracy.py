import functools

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras import _checks
from mmkeras.metrics import _python
from mmkeras.metrics import _vqa_answers


@keras.saving.register_keras_serializable(package="mmkeras")
class VQAAccuracy(keras.metrics.Metric):
    """The official VQA accuracy, averaged over questions.

    An answer counts `min(1, matches / 3)` where `matches` is the number of
    humans who gave it; as in the official `vqaEval.py` this is averaged
    over the 10 leave-one-annotator-out subsets of 9, so an answer given by
    1, 2, 3 or 4+ of 10 humans scores 0.3, 0.6, 0.9 or 1.0. The official
    script reports `round(100 * result, 2)`.

    Inputs, `y_true` holding the human answers `(batch, num_answers)`
    (10 in VQA v1/v2), one per annotator:

    - strings: `y_pred` answers `(batch,)`, compared as `normalization`
      says. The string path runs in `tf.py_function` (compile with
      `jit_compile=False`);
    - answer ids: `y_pred` ids `(batch,)` or scores `(batch, num_classes)`
      (the argmax is taken), `y_true` ids; give human answers outside the
      answer vocabulary an id that is never predicted, e.g. -1. Ids are
      compared as they are, whatever `normalization` is.

    `sample_weight` weights questions. Sums are metric variables, so the
    value adds up across replicas.

    Args:
        normalization: how string answers are compared. "official" (the
            default) is exactly the rules of GT-Vision-Lab/VQA's
            `vqaEval.py`, the ones published numbers use: every answer
            loses newlines, tabs and outer spaces; then only if the human
            answers differ are they and the prediction normalised
            (punctuation, number words, articles, lowercase, contractions
            such as "dont" -> "don't"). So against ten identical human
            answers the prediction must match exactly, case and
            punctuation included. "lenient" always normalises both sides,
            and reads typographic apostrophes as "'"; its numbers are not
            comparable with published ones.
        name: the metric name.
        dtype: the dtype of the result.

    Example:

    >>> accuracy = mmkeras.metrics.VQAAccuracy()
    >>> answers = [["2 dogs"] * 2 + ["3 dogs"] * 8]
    >>> accuracy.update_state(answers, ["Two dogs!"])
    >>> round(float(accuracy.result()), 6)
    0.6
    """

    def __init__(
        self, normalization="official", name="vqa_accuracy", dtype=None
    ):
        _checks.one_of(
            "normalization", normalization, _vqa_answers.NORMALIZATIONS
        )
        super().__init__(name=name, dtype=dtype)
        self.normalization = normalization
        self.total = self.add_variable(
            (), "zeros", dtype="float64", name="total"
        )
        self.count = self.add_variable(
            (), "zeros", dtype="float64", name="count"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = (
            tf.convert_to_tensor(y_true),
            tf.convert_to_tensor(y_pred),
        )
        if y_pred.dtype == tf.string and y_true.dtype == tf.string:
            _check_ranks(y_true, y_pred)
            accuracy = _python.call(
                functools.partial(_string_accuracies, self.normalization),
                [y_true, y_pred],
                y_pred.shape,
            )
        elif y_pred.dtype != tf.string and y_true.dtype != tf.string:
            if y_pred.dtype.is_floating and len(y_pred.shape) == 2:
                y_pred = ops.argmax(y_pred, axis=-1)
            _check_ranks(y_true, y_pred)
            accuracy = _id_accuracies(y_true, y_pred)
        else:
            raise ValueError(
                "y_true and y_pred must both be strings or both be answer "
                f"ids/scores. Received: y_true {y_true.dtype.name}, y_pred "
                f"{y_pred.dtype.name}"
            )
        weight = ops.ones_like(accuracy)
        if sample_weight is not None:
            weight = ops.reshape(ops.cast(sample_weight, "float64"), (-1,))
            weight = ops.broadcast_to(weight, ops.shape(accuracy))
        self.total.assign_add(ops.sum(accuracy * weight))
        self.count.assign_add(ops.sum(weight))

    def result(self):
        return ops.cast(ops.divide_no_nan(self.total, self.count), self.dtype)

    def get_config(self):
        return {**super().get_config(), "normalization": self.normalization}


def _check_ranks(y_true, y_pred):
    if len(y_pred.shape) != 1 or len(y_true.shape) != 2:
        raise ValueError(
            "Expected y_pred answers (batch,) or scores (batch, num_classes) "
            "and y_true human answers (batch, num_answers). Received: y_pred "
            f"{tuple(y_pred.shape)}, y_true {tuple(y_true.shape)}"
        )


def _id_accuracies(answers, predictions):
    predictions = ops.cast(predictions, "int64")[:, None]
    matches = ops.cast(
        ops.equal(ops.cast(answers, "int64"), predictions), "float64"
    )
    # Leave each annotator out in turn: the others' matches, capped at 3.
    others = ops.sum(matches, axis=-1, keepdims=True) - matches
    return ops.mean(ops.minimum(1.0, others / 3.0), axis=-1)


def _string_accuracies(normalization, answers, predictions):
    return np.array(
        [
            answer_accuracy(_texts(row), _texts([p])[0], normalization)
            for row, p in zip(answers, predictions, strict=True)
        ]
    )


def _texts(values):
    # Bytes that are not UTF-8 stay distinct and comparable.
    return [v.decode("utf-8", "surrogateescape") for v in values]


def answer_accuracy(answers, prediction, normalization="official"):
    """One question's accuracy, as `vqaEval.py`'s `evaluate` computes it:
    the mean over each annotator left out of `min(1, matches among the
    other 9 / 3)`."""
    answers, prediction = _vqa_answers.compared(
        answers, prediction, normalization
    )
    matches = [answer == prediction for answer in answers]
    others = [sum(matches) - match for match in matches]
    return sum(min(1, other / 3) for other in others) / len(answers)
