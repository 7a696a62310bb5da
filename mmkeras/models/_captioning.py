"""Helpers of `ImageCaptioner`: argument checks, teacher-forcing targets,
image scaling and cutting generated ids at the end token."""

import keras
from keras import ops

from mmkeras import _checks


def check_sizes(**sizes):
    for name, value in sizes.items():
        _checks.positive_int(name, value)


def check_token_ids(vocabulary_size, **ids):
    for name, value in ids.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 <= value < vocabulary_size
        ):
            raise ValueError(
                f"{name} must be an integer in [0, vocabulary_size="
                f"{vocabulary_size}). Received: {name}={value!r}"
            )


def require_tokenizer(tokenizer, what):
    if tokenizer is None:
        raise ValueError(
            f"{what} needs a tokenizer; pass tokenizer= to ImageCaptioner. "
            "Received: tokenizer=None"
        )


def special_ids(tokenizer, start_token_id, end_token_id):
    """The start and end ids: given ones win, else the tokenizer's."""
    if tokenizer is not None:
        if start_token_id is None:
            start_token_id = tokenizer.start_token_id
        if end_token_id is None:
            end_token_id = tokenizer.end_token_id
    for name, value in [
        ("start_token_id", start_token_id),
        ("end_token_id", end_token_id),
    ]:
        if value is None:
            raise ValueError(
                f"{name} is required when no tokenizer gives it. Received: "
                f"{name}=None, tokenizer={tokenizer!r}"
            )
    return start_token_id, end_token_id


def check_tokenizer(tokenizer, vocabulary_size, sequence_length):
    if tokenizer is None:
        return
    if not getattr(tokenizer, "add_start_end", False):
        raise ValueError(
            "tokenizer must add start and end tokens (add_start_end=True), "
            "since captions are generated from the start token up to the "
            f"end token. Received: tokenizer={tokenizer!r}"
        )
    if tokenizer.sequence_length not in (None, sequence_length + 1):
        raise ValueError(
            "tokenizer.sequence_length must be None or sequence_length + 1 "
            f"(= {sequence_length + 1}: inputs and next-token labels are "
            "the ids shifted by one). Received: tokenizer.sequence_length="
            f"{tokenizer.sequence_length}"
        )
    if tokenizer.vocabulary_size() > vocabulary_size:
        raise ValueError(
            "vocabulary_size must cover the tokenizer's vocabulary "
            f"({tokenizer.vocabulary_size()} tokens). Received: "
            f"vocabulary_size={vocabulary_size}"
        )


def check_max_length(max_length, sequence_length):
    _checks.positive_int("max_length", max_length)
    if not 2 <= max_length <= sequence_length:
        raise ValueError(
            "max_length must be in [2, sequence_length="
            f"{sequence_length}] (the start token plus at least one "
            f"generated token). Received: max_length={max_length}"
        )


def scale_images(images, dtype):
    """uint8 images (as `mmkeras.data` gives them) to [0, 1] floats."""
    # `str` of a tensor's dtype is "<dtype: 'uint8'>", not "uint8".
    if keras.backend.standardize_dtype(images.dtype) == "uint8":
        return ops.cast(images, dtype) / 255.0
    return ops.cast(images, dtype)


def teacher_forcing(ids, pad_token_id, length):
    """`(batch, length + 1)` ids (dense or ragged) to inputs and labels."""
    if hasattr(ids, "to_tensor"):
        ids = ids.to_tensor(pad_token_id, shape=[None, length + 1])
    return ids[:, :-1], ids[:, 1:]


def cut_at_end(token_ids, end_token_id, pad_token_id):
    """Ids `(batch, length)` with every position after the first end token
    set to pad (samplers stop a row at its end token, beams may not)."""
    is_end = ops.cast(ops.equal(token_ids, end_token_id), "int32")
    ended_before = ops.cumsum(is_end, axis=1) - is_end > 0
    return ops.where(ended_before, pad_token_id, token_ids)
