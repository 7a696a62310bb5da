"""Stateless sampling that gives the same tokens eagerly, in `tf.function`
and under XLA.

`tf.random.stateless_uniform` returns the same random *bits* on every path,
but XLA maps bits to floats differently from the TF kernel (and
`stateless_categorical` is a different algorithm under XLA). So we draw
integer bits and turn them into floats ourselves, then sample with the
Gumbel-max trick. Only TF has stateless ops that take a tensor seed (one per
decoding step), hence `tf.random` here.
"""

import tensorflow as tf
from keras import ops

_BITS = 24  # float32 holds every 24-bit integer exactly


def step_seed(seed, index):
    """A (2,) int32 seed unique to `(seed, index)`."""
    return ops.stack([ops.cast(seed, "int32"), ops.cast(index, "int32")])


def call_seed(seed):
    """The sampler's `seed`, or a fresh random one when it is None."""
    if seed is not None:
        return ops.convert_to_tensor(seed, "int32")
    return tf.random.uniform((), maxval=2**31 - 1, dtype="int32")


def categorical(logits, seed):
    """Draws one index per row of `logits` (batch, n); -inf never wins."""
    bits = tf.random.stateless_uniform(
        ops.shape(logits),
        seed=seed,
        minval=0,
        maxval=2**_BITS,
        dtype="int32",
        alg="philox",
    )
    uniform = (ops.cast(bits, "float32") + 0.5) / 2.0**_BITS
    gumbel = -ops.log(-ops.log(uniform))
    return ops.argmax(ops.cast(logits, "float32") + gumbel, axis=-1)
