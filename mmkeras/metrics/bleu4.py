import keras
import numpy as np
from keras import ops

from mmkeras import _checks
from mmkeras.metrics import _python
from mmkeras.metrics import _text

_N = 4
# pycocoevalcap's guards against division by zero, kept for equal values.
_TINY = 1e-15
_SMALL = 1e-9


@keras.saving.register_keras_serializable(package="mmkeras")
class Bleu4(keras.metrics.Metric):
    """Corpus BLEU-4, as pycocoevalcap's `Bleu(4)` scorer.

    Clipped n-gram matches, n-gram counts and lengths are summed over the
    whole corpus (every `update_state` call) and BLEU-4 is computed from the
    sums: the geometric mean of the clipped 1- to 4-gram precisions times
    the brevity penalty, where each candidate's reference length is the
    "closest" reference length (ties go to the shorter). The sums are metric
    variables, so they add up across replicas and workers.

    Inputs are tokenized text (pycocoevalcap scores the output of its PTB
    tokenizer: lowercase, punctuation split off, space separated):

    - strings: `y_pred` candidates `(batch,)`, `y_true` references
      `(batch, num_refs)`; empty strings are padding;
    - token ids: `y_pred` `(batch, length)`, `y_true` `(batch, num_refs,
      length)`; `pad_id` tokens are dropped and all-padding references are
      padding. Ids score like the words they stand for when one id is one
      word.

    Keras' `evaluate` under a distribution strategy cannot take string
    tensors; use token ids there. The counting runs in `tf.py_function`, so
    compile with `jit_compile=False`.

    Args:
        pad_id: the padding token id (token-id inputs only).
        name: the metric name.
        dtype: the dtype of the result.

    Example:

    >>> bleu = mmkeras.metrics.Bleu4()
    >>> references = [["a red circle on the left", "a red ball"]]
    >>> bleu.update_state(references, ["a red circle on the left"])
    >>> round(float(bleu.result()), 6)
    1.0
    """

    def __init__(self, pad_id=0, name="bleu4", dtype=None):
        super().__init__(name=name, dtype=dtype)
        _checks.integer("pad_id", pad_id)
        self.pad_id = pad_id
        # float64 counts stay exact far beyond any corpus size.
        self.lengths = self.add_variable(
            (2,), "zeros", dtype="float64", name="lengths"
        )
        self.guess = self.add_variable(
            (_N,), "zeros", dtype="float64", name="guess"
        )
        self.correct = self.add_variable(
            (_N,), "zeros", dtype="float64", name="correct"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                "Bleu4 is a corpus metric: sample_weight must be None."
            )
        y_true, y_pred = _text.check_inputs(y_true, y_pred)
        stats = _python.call(self._statistics, [y_true, y_pred], (2 + 2 * _N,))
        self.lengths.assign_add(stats[:2])
        self.guess.assign_add(stats[2 : 2 + _N])
        self.correct.assign_add(stats[2 + _N :])

    def result(self):
        precision = ops.cumprod((self.correct + _TINY) / (self.guess + _SMALL))
        bleu = ops.power(precision[_N - 1], 1.0 / _N)
        test_length, reference_length = self.lengths[0], self.lengths[1]
        ratio = (test_length + _TINY) / (reference_length + _SMALL)
        penalty = ops.where(ratio < 1.0, ops.exp(1.0 - 1.0 / ratio), 1.0)
        return ops.cast(bleu * penalty, self.dtype)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}

    def _statistics(self, references, candidates):
        stats = np.zeros(2 + 2 * _N)
        for candidate, refs in _text.documents(
            references, candidates, self.pad_id
        ):
            stats += _sentence_statistics(candidate, refs)
        return stats


def _sentence_statistics(candidate, references):
    """[test length, reference length, guesses 1..4, clipped matches 1..4]."""
    max_counts = {}
    for reference in references:
        for ngram, count in _text.ngram_counts(reference, _N).items():
            max_counts[ngram] = max(max_counts.get(ngram, 0), count)
    length = len(candidate)
    closest = min((abs(len(r) - length), len(r)) for r in references)[1]
    guess = [max(0, length - k + 1) for k in range(1, _N + 1)]
    correct = [0] * _N
    for ngram, count in _text.ngram_counts(candidate, _N).items():
        correct[len(ngram) - 1] += min(max_counts.get(ngram, 0), count)
    return np.array([length, closest, *guess, *correct], dtype="float64")
