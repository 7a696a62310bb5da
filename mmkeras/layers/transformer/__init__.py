from mmkeras.layers.transformer.decoder_only_block import DecoderOnlyBlock
from mmkeras.layers.transformer.feed_forward import FeedForward
from mmkeras.layers.transformer.rms_normalization import RMSNormalization
from mmkeras.layers.transformer.transformer_decoder_block import (
    TransformerDecoderBlock,
)
from mmkeras.layers.transformer.transformer_encoder_block import (
    TransformerEncoderBlock,
)

__all__ = [
    "DecoderOnlyBlock",
    "FeedForward",
    "RMSNormalization",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
]
