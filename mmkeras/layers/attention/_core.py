"""The attention core: scaled scores, masked float32 softmax, dropout, sum.

`attention` is the plain path; `compiled_attention` is the same function
compiled with XLA, and `compiled_block` compiles a whole transformer block
(attention, MLP, norms) the same way. A layer's `xla` option is `True`,
`False` or `"auto"` (the default), which `compiles` resolves when the
layer is called. This is the one TensorFlow-specific
spot in `mmkeras.layers`: Keras has no public API to compile a
sub-function, and compiling parts (not the whole train step) is what works
under `tf.distribute.MirroredStrategy` and what a consumer without XLA can
skip.
"""

import contextlib
import functools
import threading

import tensorflow as tf

# Large but finite, so a fully masked row softmaxes to uniform, not NaN.
_MASKED_SCORE = -1e9


def attention(
    query,
    key,
    value,
    mask=None,
    dropout_rate=0.0,
    seed=None,
    return_probs=False,
):
    """Multi-head scaled dot-product attention.

    With fewer key/value heads than query heads (grouped-query attention),
    query head `h` attends with key/value head `h // groups`: the query's
    heads are folded into its length, `(batch, kv_heads, groups *
    query_len, key_dim)`, so each key/value head serves its group in one
    matmul and the keys and values are never repeated. Measured at batch 1
    decoding (9 query and 3 key/value heads of 64, 2 CPU cores shared with
    other jobs), one core call: 0.78 ms folded vs 1.00 ms repeating the
    keys and values with a 512-slot cache, 1.2 vs 3.7 ms with 2048 slots
    (compiled with XLA: 0.42 vs 0.54 and 0.72 vs 1.44 ms).

    Args:
        query: `(batch, query_len, heads, key_dim)`.
        key: `(batch, key_len, kv_heads, key_dim)`; `kv_heads` divides
            `heads`.
        value: `(batch, key_len, kv_heads, value_dim)`.
        mask: optional boolean, broadcastable to `(batch, query_len,
            key_len)`; `True` marks the keys a query may attend to.
        dropout_rate: dropout on the attention probabilities.
        seed: `(2,)` integer seed for the stateless dropout; required when
            `dropout_rate > 0`.
        return_probs: also return the float32 attention probabilities.

    Returns:
        `(batch, query_len, heads, value_dim)`, and with `return_probs` the
        probabilities `(batch, heads, query_len, key_len)`.
    """
    # Tensors where `reduce_retracing` relaxed the shapes to None.
    heads, kv_heads = _dim(query, 2), _dim(key, 2)
    grouped = query.shape[2] is None or query.shape[2] != key.shape[2]
    query, key, value = map(_heads_first, (query, key, value))
    # Scores and softmax in float32: float16 scores overflow (inf - inf =
    # NaN) long before float16 activations do.
    query = tf.cast(query, tf.float32)
    scale = tf.math.rsqrt(tf.cast(tf.shape(query)[-1], tf.float32))
    # Heads first and batched matmuls, not einsums: TF's einsum gradients
    # transpose more (2 CPU cores, width 512, 65 tokens: the core's
    # forward and backward ran 1.6x faster, in float32 and bfloat16).
    scores = tf.matmul(
        _regroup(query * scale, kv_heads, grouped),
        tf.cast(key, tf.float32),
        transpose_b=True,
    )
    scores = _regroup(scores, heads, grouped)
    if mask is not None:
        scores = tf.where(mask[:, None, :, :], scores, _MASKED_SCORE)
    probs = tf.nn.softmax(scores, axis=-1)
    weights = probs
    if dropout_rate > 0.0:
        weights = tf.nn.experimental.stateless_dropout(
            weights, rate=dropout_rate, seed=tf.cast(seed, tf.int64)
        )
    weights = _regroup(tf.cast(weights, value.dtype), kv_heads, grouped)
    output = _heads_first(_regroup(tf.matmul(weights, value), heads, grouped))
    if return_probs:
        return output, probs
    return output


def _regroup(tensor, heads, grouped):
    """`(batch, h, length, dim)` as `(batch, heads, h / heads * length,
    dim)`: with `heads` the key/value heads, query head `h` joins key/value
    head `h // groups`; with `heads` the query heads, the inverse."""
    if not grouped:
        return tensor
    return tf.reshape(tensor, (_dim(tensor, 0), heads, -1, _dim(tensor, 3)))


def _dim(tensor, axis):
    """The static size of `axis` if known (later shapes stay static), else
    its size as a tensor."""
    return tensor.shape[axis] or tf.shape(tensor)[axis]


def _heads_first(tensor):
    """`(batch, length, heads, dim)` <-> `(batch, heads, length, dim)`."""
    return tf.transpose(tensor, (0, 2, 1, 3))


# Layers of many shapes share this function; relaxed shapes keep it to a few
# traces, and XLA still compiles one kernel per concrete shape it meets.
compiled_attention = tf.function(
    attention, jit_compile=True, reduce_retracing=True
)


def compiled_block(function, layer):
    """`function`, the body of `layer`'s `call`, as one XLA computation,
    with the plain core inside (see `inside_jit_compile`).

    One computation per block fuses the norms, residuals and activations
    around the attention core too. Measured here (2 CPU cores, the
    `benchmarks/vs_keras_hub.py` dual encoder, 160 steps each, taking
    turns): 52.1 ms per training step with compiled blocks, 55.9 with
    compiled cores only, 56.6 with no XLA.

    `function` runs as it is in three cases:
    - called eagerly, as Keras runs eager calls uncompiled: a one-off call
      would pay for one compilation per block and shape (the ViT and
      text encoder tests: 16.4 s with compiled cores only, 42.4 s with
      eager calls compiled too, 22.7 s without);
    - inside a function compiled whole;
    - when the layer's variables are mirrored but this call is not inside
      `strategy.run`: XLA cannot reach the other replicas' copies of the
      dropout seeds it would update.
    """

    def traced_whole(*args, **kwargs):
        with inside_jit_compile():
            return function(*args, **kwargs)

    compiled = tf.function(
        traced_whole, jit_compile=True, reduce_retracing=True
    )

    def call(*args, **kwargs):
        # Checked last: the seeds (non-trainable, the variables a call
        # updates; unlike float ones they never read as cast tensors under
        # mixed precision) are collected by walking the sublayers.
        if (
            not compiles(layer.xla)
            or tf.executing_eagerly()
            or whole_graph_compiled()
            or _outside_replicas(layer.non_trainable_variables)
        ):
            return function(*args, **kwargs)
        return compiled(*args, **kwargs)

    call.compiled = compiled  # the tf.function, for tests to inspect
    return call


def _outside_replicas(variables):
    """Whether distributed `variables` are used outside `strategy.run`."""
    if not variables:
        return False
    if not isinstance(variables[0].value, tf.distribute.DistributedValues):
        return False
    in_cross_replica = tf.distribute.get_replica_context() is None
    return in_cross_replica or not tf.distribute.has_strategy()


_tracing = threading.local()


@contextlib.contextmanager
def inside_jit_compile():
    """Use while tracing a function that XLA compiles whole (such as
    `tf.function(..., jit_compile=True)`): attention layers then call the
    plain core, which XLA fuses with the rest, not `compiled_attention`.
    Measured here: with a nested XLA function a jit-compiled greedy loop
    ran 20,307 tokens/s, without it 22,919 (`benchmarks/vs_keras_hub.py`,
    2 CPU cores)."""
    previous = getattr(_tracing, "whole", False)
    _tracing.whole = True
    try:
        yield
    finally:
        _tracing.whole = previous


def whole_graph_compiled():
    """True inside `inside_jit_compile`."""
    return getattr(_tracing, "whole", False)


def core(xla):
    """The core a layer built with `xla` calls here. Eager calls take the
    plain one, as in `compiled_block`: layers of several shapes calling the
    one compiled core eagerly retraced it, with TensorFlow's retracing
    warning (the zoo's VQA and fusion models in `mmkeras demo`)."""
    if (
        compiles(xla)
        and not tf.executing_eagerly()
        and not whole_graph_compiled()
    ):
        return compiled_attention
    return attention


def check_xla(xla):
    """`xla` if it is `True`, `False` or `"auto"`; else a ValueError."""
    if isinstance(xla, bool) or (isinstance(xla, str) and xla == "auto"):
        return xla
    raise ValueError(
        'xla must be True, False or "auto" (compile with XLA on a GPU or '
        f"TPU, run plain on CPUs). Received: xla={xla!r}"
    )


def compiles(xla):
    """Whether a layer built with `xla` runs XLA-compiled code here.

    `"auto"` compiles on a GPU or TPU and runs plain on CPUs. Measured on
    2 CPU cores (`benchmarks/xla_default.py`): XLA compiles one program
    per block and input shape, which a partial last batch or a validation
    split pays again, and XLA's CPU matmuls ignore bfloat16 (a 2048x2048
    bfloat16 matmul ran 2.3x slower compiled than plain), so compiling
    made every documented workload 1.5-2x slower, first epoch included.
    """
    if isinstance(xla, str):
        return _has_accelerator()
    return xla


@functools.cache
def _has_accelerator():
    return any(tf.config.list_logical_devices(kind) for kind in ("GPU", "TPU"))
