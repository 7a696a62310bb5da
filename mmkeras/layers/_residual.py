"""The residual connection every transformer sublayer shares."""

import keras


def residual(inputs, sublayer, norm, dropout, norm_first, training=None):
    """`x + dropout(f(norm(x)))` (pre-LN) or `norm(x + dropout(f(x)))`.

    `sublayer` may return a tuple `(outputs, *extras)` (attention with a
    cache); the extras are passed through after the block's outputs.
    """
    outputs = sublayer(norm(inputs) if norm_first else inputs)
    extras = ()
    if isinstance(outputs, tuple):
        outputs, *extras = outputs
    outputs = dropout(outputs, training=training) + inputs
    if not norm_first:
        outputs = norm(outputs)
    return (outputs, *extras) if extras else outputs


def built_norm(epsilon, dtype, name, shape):
    norm = keras.layers.LayerNormalization(
        epsilon=epsilon, dtype=dtype, name=name
    )
    norm.build(shape)
    return norm
