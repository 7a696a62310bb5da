"""Running python from metric code, in eager mode and inside `tf.function`.

The captioning and retrieval metrics do their counting in python (n-grams,
answer normalisation, ranking). `tf.py_function` runs it in the calling
process, so it works in `fit`/`evaluate` and under single-process
strategies (`MirroredStrategy`), but not under XLA (`jit_compile=True`) or
on TPUs.
"""

import numpy as np
import tensorflow as tf


def call(fn, inputs, shape, dtype="float64"):
    """`fn(*numpy_inputs)` as a tensor of `shape` and `dtype`."""

    def wrapped(*tensors):
        return np.asarray(fn(*[to_numpy(t) for t in tensors]), dtype=dtype)

    output = tf.py_function(wrapped, list(inputs), Tout=tf.as_dtype(dtype))
    output.set_shape(shape)
    return output


def to_numpy(tensor):
    return tensor.numpy() if hasattr(tensor, "numpy") else np.asarray(tensor)
