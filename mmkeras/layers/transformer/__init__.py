from mmkeras.layers.transformer.feed_forward import FeedForward
from mmkeras.layers.transformer.transformer_decoder_block import (
    TransformerDecoderBlock,
)
from mmkeras.layers.transformer.transformer_encoder_block import (
    TransformerEncoderBlock,
)

__all__ = [
    "FeedForward",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
]
