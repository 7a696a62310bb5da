"""The pre-LN transformer stack shared by the ViT and text encoders."""

import keras

from mmkeras.layers import TransformerEncoderBlock


def pre_ln_stack(encoder, shape):
    """Builds `encoder.num_layers` pre-LN blocks and the final layer norm.

    Reads the block settings from the encoder's attributes; returns
    `(blocks, output_norm)`, built for token sequences of `shape`, for the
    encoder to keep as attributes (so Keras tracks them).
    """
    blocks = []
    for index in range(encoder.num_layers):
        block = TransformerEncoderBlock(
            encoder.num_heads,
            encoder.intermediate_dim,
            dropout=encoder.dropout,
            layer_norm_epsilon=encoder.layer_norm_epsilon,
            norm_first=True,
            xla=encoder.xla,
            dtype=encoder.dtype_policy,
            name=f"block_{index}",
        )
        block.build(shape)
        blocks.append(block)
    output_norm = keras.layers.LayerNormalization(
        epsilon=encoder.layer_norm_epsilon,
        dtype=encoder.dtype_policy,
        name="output_norm",
    )
    output_norm.build(shape)
    return blocks, output_norm
