"""Helpers of the captioner family: argument checks, teacher-forcing
targets and the image tokens' scale."""

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
                f"{name} is required when no preprocessor's tokenizer gives "
                f"it. Received: {name}=None, tokenizer={tokenizer!r}"
            )
    return start_token_id, end_token_id


def check_tokenizer(tokenizer, sequence_length):
    """A caption tokenizer adds start and end tokens and gives (at most)
    `sequence_length + 1` ids: inputs and labels are them shifted by
    one."""
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


def check_preprocessor(preprocessor, vocabulary_size, sequence_length):
    """The preprocessor's captions must fit the model."""
    if preprocessor is None:
        return
    if preprocessor.sequence_length not in (None, sequence_length):
        raise ValueError(
            "preprocessor.sequence_length must equal the model's "
            f"sequence_length={sequence_length}. Received: "
            f"preprocessor.sequence_length={preprocessor.sequence_length}"
        )
    tokenizer = preprocessor.tokenizer
    if tokenizer is not None and tokenizer.vocabulary_size() > vocabulary_size:
        raise ValueError(
            "vocabulary_size must cover the tokenizer's vocabulary "
            f"({tokenizer.vocabulary_size()} tokens). Received: "
            f"vocabulary_size={vocabulary_size}"
        )


def teacher_forcing(ids, pad_token_id, length):
    """`(batch, length + 1)` ids (dense or ragged) to inputs and labels."""
    if hasattr(ids, "to_tensor"):
        ids = ids.to_tensor(pad_token_id, shape=[None, length + 1])
    return ids[:, :-1], ids[:, 1:]


def unit_rms(tokens):
    """`tokens` scaled so that an image's tokens have RMS norm 1.

    Position must weigh as much as content: conv tokens are some ten times
    longer than two coordinates in [-1, 1], and the decoder then never
    learned where objects are (benchmarks/captioning.py oracle with its
    tokens scaled up shows the same). Relative sizes within the image are
    kept, so empty page stays weaker than an object."""
    # In float32: the sum of squares overflows float16 for long tokens.
    squared = ops.square(ops.cast(tokens, "float32"))
    squared = ops.mean(ops.sum(squared, axis=-1), axis=1)
    scale = ops.cast(ops.rsqrt(squared + 1e-6), tokens.dtype)
    return tokens * scale[:, None, None]
