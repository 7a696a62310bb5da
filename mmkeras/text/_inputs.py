"""Argument and input checks of the text layers; errors name the argument,
the received value and the fix."""

import collections
import os

import keras
import tensorflow as tf

from mmkeras.text import vocabulary as vocabulary_lib


def check_special_tokens(special_tokens, special_roles, add_start_end):
    unknown = set(special_tokens or {}) - set(special_roles)
    if unknown:
        raise ValueError(
            f"special_tokens keys must be among {list(special_roles)}."
            f" Received: special_tokens={special_tokens!r}"
        )
    if not isinstance(add_start_end, bool):
        raise ValueError(
            f"add_start_end must be a bool. Received: {add_start_end!r}"
        )


def string_tensor(inputs, owner):
    """Strings of rank 0 or 1 as a tensor; anything else raises, naming
    `owner` (the tokenizer's class name)."""
    if isinstance(inputs, keras.KerasTensor):
        dtype, rank = inputs.dtype, len(inputs.shape)
    else:
        inputs = tf.convert_to_tensor(inputs)
        dtype, rank = inputs.dtype.name, inputs.shape.rank
    if dtype != "string":
        raise TypeError(
            f"{owner} takes strings. Received inputs of dtype "
            f"{dtype}; pass text, e.g. keras.Input(shape=(), dtype='string')."
        )
    if rank not in (0, 1):
        raise ValueError(
            f"{owner} takes a string scalar or a 1-D batch of "
            f"strings. Received inputs of rank {rank}."
        )
    return inputs


def token_list(vocabulary):
    if isinstance(vocabulary, (str, os.PathLike)):
        vocabulary = vocabulary_lib.load_vocabulary(vocabulary)
    valid = isinstance(vocabulary, (list, tuple)) and all(
        isinstance(token, str) and token for token in vocabulary
    )
    if not valid or not vocabulary:
        raise ValueError(
            "vocabulary must be a file path or a non-empty list of non-empty "
            f"strings. Received: vocabulary={_preview(vocabulary)}"
        )
    counts = collections.Counter(vocabulary)
    duplicates = sorted(t for t, count in counts.items() if count > 1)
    if duplicates:
        raise ValueError(
            "vocabulary tokens must be unique. Received duplicates: "
            f"{_preview(duplicates)}"
        )
    return list(vocabulary)


def _preview(value):
    text = repr(value)
    return text if len(text) < 200 else text[:200] + "..."


def rank(ids):
    return tf.convert_to_tensor(ids).shape.rank


def ragged_batch(ids):
    """(batch, sequence) ragged int32 ids from dense or ragged ids."""
    if not isinstance(ids, tf.RaggedTensor):
        ids = tf.convert_to_tensor(ids)
        ids = tf.RaggedTensor.from_tensor(
            ids if ids.shape.rank == 2 else ids[None]
        )
    return tf.cast(ids, tf.int32)


def regex_escape(text):
    return "".join("\\" + c if not c.isalnum() else c for c in text)


class VocabularyLookups:
    """The vocabulary methods both tokenizers share; they keep the tokens
    in `self.vocabulary` and `{token: id}` in `self._ids`."""

    def get_vocabulary(self):
        """The tokens, in id order, as a new list."""
        return list(self.vocabulary)

    def vocabulary_size(self):
        return len(self.vocabulary)

    def token_to_id(self, token):
        """The id of `token`; raises `KeyError` when it is not a token."""
        if token not in self._ids:
            raise KeyError(f"{token!r} is not in the vocabulary.")
        return self._ids[token]

    def id_to_token(self, id):
        if not 0 <= id < len(self.vocabulary):
            raise ValueError(
                f"id must be in [0, {len(self.vocabulary)}). Received: id={id}"
            )
        return self.vocabulary[id]
