"""Layers that bring images into a language model: Flamingo's Perceiver
resampler and gated cross-attention, and LLaVA's image token projector."""

from mmkeras.layers.vision_language.gated_cross_attention_block import (
    GatedCrossAttentionBlock,
)
from mmkeras.layers.vision_language.image_token_projector import (
    ImageTokenProjector,
)
from mmkeras.layers.vision_language.perceiver_resampler import (
    PerceiverResampler,
)

__all__ = [
    "GatedCrossAttentionBlock",
    "ImageTokenProjector",
    "PerceiverResampler",
]
