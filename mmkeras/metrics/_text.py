"""Candidates and references as token lists, for the captioning metrics.

Both captioning scorers of pycocoevalcap split tokenized text on
whitespace and count n-grams, so token ids work as well as words: an id
sequence is scored as the words `"17 4 9"`.
"""

import collections

import numpy as np
import tensorflow as tf

from mmkeras.metrics import _python


def check_inputs(references, candidates):
    """The inputs as tensors, after checking they are strings or token ids.

    Keras' `compile` may hand over integer targets as floats; token ids
    are cast back to int64.
    """
    references = tf.convert_to_tensor(references)
    candidates = tf.convert_to_tensor(candidates)
    if candidates.dtype.is_integer and references.dtype.is_floating:
        references = tf.cast(references, "int64")
    is_string = candidates.dtype == tf.string
    expected = (1, 2) if is_string else (2, 3)
    ranks = (len(candidates.shape), len(references.shape))
    same_kind = (references.dtype == tf.string) == is_string
    if (
        not (is_string or candidates.dtype.is_integer)
        or not same_kind
        or ranks != expected
    ):
        raise ValueError(
            "Expected y_pred strings (batch,) with y_true strings (batch, "
            "num_refs), or y_pred token ids (batch, length) with y_true "
            "token ids (batch, num_refs, length). Received: y_pred "
            f"{candidates.dtype.name} {tuple(candidates.shape)}, y_true "
            f"{references.dtype.name} {tuple(references.shape)}"
        )
    return references, candidates


def documents(references, candidates, pad_id):
    """Yields `(candidate_tokens, [reference_tokens, ...])` per example.

    Empty references (empty strings or all `pad_id`) are padding and
    dropped; an example without any reference is an error.
    """
    references = _python.to_numpy(references)
    candidates = _python.to_numpy(candidates)
    if len(references) != len(candidates):
        raise ValueError(
            f"y_true has {len(references)} examples but y_pred "
            f"{len(candidates)}."
        )
    for index, (candidate, refs) in enumerate(
        zip(candidates, references, strict=True)
    ):
        refs = [tokens(ref, pad_id) for ref in refs]
        refs = [ref for ref in refs if ref]
        if not refs:
            raise ValueError(
                f"Example {index} of the batch has no reference: every "
                "reference is empty or padding."
            )
        yield tokens(candidate, pad_id), refs


def tokens(value, pad_id):
    if isinstance(value, bytes):
        return value.decode("utf-8").split()
    return [str(token) for token in np.asarray(value) if token != pad_id]


def ngram_counts(words, n=4):
    """Counts of all 1- to n-grams, as pycocoevalcap's `precook`."""
    counts = collections.Counter()
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i : i + k])] += 1
    return counts
