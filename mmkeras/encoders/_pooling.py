"""Pooling of a token sequence into one vector, shared by the encoders."""

from keras import ops

from mmkeras import _checks


def check(pooling, allowed):
    _checks.one_of("pooling", pooling, allowed)


def pool(tokens, pooling, mask=None):
    """`"mean"` (over `mask`ed-in tokens if given), `"max"` or `"first"`."""
    if pooling == "first":
        return tokens[:, 0]
    if pooling == "max":
        return ops.max(tokens, axis=1)
    if mask is None:
        return ops.mean(tokens, axis=1)
    weights = ops.cast(mask, tokens.dtype)[:, :, None]
    # A count of at least 1 pools an all-padding row to zeros, not NaN
    # (sentence-transformers' 1e-9 clamp underflows in float16).
    count = ops.maximum(ops.sum(weights, axis=1), 1.0)
    return ops.sum(tokens * weights, axis=1) / count
