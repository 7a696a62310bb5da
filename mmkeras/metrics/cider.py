import keras
from keras import ops

from mmkeras import _checks
from mmkeras.metrics import _cider_corpus
from mmkeras.metrics import _python
from mmkeras.metrics import _text


@keras.saving.register_keras_serializable(package="mmkeras")
class Cider(keras.metrics.Metric):
    """CIDEr-D, as pycocoevalcap's `Cider()` scorer.

    Each candidate is compared with its references as tf-idf weighted 1- to
    4-gram vectors: cosine similarity with the candidate's weights clipped
    to the reference's, times a Gaussian length penalty (sigma 6), averaged
    over n-gram orders and references, times 10; the score is the mean over
    the corpus. The idf comes from the references of the whole corpus, so no
    per-batch sum can be exact: the metric keeps every document (as n-gram
    counts, in python) and scores the corpus in `result()`. Keeping them in
    python is what makes it exact under single-process strategies such as
    `MirroredStrategy`, where all replicas run in one process; it does not
    gather documents across workers.

    Inputs are tokenized text (pycocoevalcap scores the output of its PTB
    tokenizer: lowercase, punctuation split off, space separated):

    - strings: `y_pred` candidates `(batch,)`, `y_true` references
      `(batch, num_refs)`; empty strings are padding;
    - token ids: `y_pred` `(batch, length)`, `y_true` `(batch, num_refs,
      length)`; `pad_id` tokens are dropped and all-padding references are
      padding.

    Keras' `evaluate` under a distribution strategy cannot take string
    tensors; use token ids there. The work runs in `tf.py_function`, so
    compile with `jit_compile=False`.

    Args:
        pad_id: the padding token id (token-id inputs only).
        name: the metric name.
        dtype: the dtype of the result.

    Example:

    >>> cider = mmkeras.metrics.Cider()
    >>> cider.update_state(
    ...     [["a red circle", "a red ball"], ["a blue square", "blue box"]],
    ...     ["a red circle", "a blue box"])
    >>> round(float(cider.result()), 3)
    4.177
    """

    def __init__(self, pad_id=0, name="cider", dtype=None):
        super().__init__(name=name, dtype=dtype)
        _checks.integer("pad_id", pad_id)
        self.pad_id = pad_id
        self._corpus = _cider_corpus.CiderCorpus()
        # A variable so Keras tracks and resets the metric like any other.
        self.count = self.add_variable(
            (), "zeros", dtype="float64", name="count"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                "Cider is a corpus metric: sample_weight must be None."
            )
        y_true, y_pred = _text.check_inputs(y_true, y_pred)
        added = _python.call(self._add, [y_true, y_pred], ())
        self.count.assign_add(added)

    def result(self):
        score = _python.call(self._corpus.score, [], ())
        return ops.cast(score, self.dtype)

    def reset_state(self):
        super().reset_state()
        self._corpus.clear()

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}

    def _add(self, references, candidates):
        count = 0
        for candidate, refs in _text.documents(
            references, candidates, self.pad_id
        ):
            self._corpus.add(candidate, refs)
            count += 1
        return count
