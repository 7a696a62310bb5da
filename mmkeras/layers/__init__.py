"""Reusable building blocks: attention, transformer blocks, image and text
embeddings, and fusion of modalities. Nothing here imports `mmkeras.models`.
"""

from mmkeras.layers.attention import CoAttention
from mmkeras.layers.attention import MultiHeadAttention
from mmkeras.layers.transformer import FeedForward
from mmkeras.layers.transformer import TransformerDecoderBlock
from mmkeras.layers.transformer import TransformerEncoderBlock

__all__ = [
    "CoAttention",
    "FeedForward",
    "MultiHeadAttention",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
]
