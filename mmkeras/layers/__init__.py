"""Reusable building blocks: attention, transformer blocks, image and text
embeddings, and fusion of modalities. Nothing here imports `mmkeras.models`.
"""

from mmkeras.layers.attention import CoAttention
from mmkeras.layers.attention import MultiHeadAttention
from mmkeras.layers.attention import RotaryEmbedding
from mmkeras.layers.attention._core import inside_jit_compile
from mmkeras.layers.fusion import AttentionFusion
from mmkeras.layers.fusion import AttentionFusionHead
from mmkeras.layers.fusion import BilinearFusion
from mmkeras.layers.fusion import BilinearFusionHead
from mmkeras.layers.fusion import CoAttentionFusionHead
from mmkeras.layers.fusion import ConcatFusion
from mmkeras.layers.fusion import ConcatFusionHead
from mmkeras.layers.fusion import FiLM
from mmkeras.layers.fusion import FiLMFusionHead
from mmkeras.layers.fusion import GatedFusion
from mmkeras.layers.fusion import LateFusion
from mmkeras.layers.fusion import RelationFusionHead
from mmkeras.layers.fusion import TransformerFusionHead
from mmkeras.layers.hub import HubEncoder
from mmkeras.layers.text import TokenAndPositionEmbedding
from mmkeras.layers.transformer import DecoderOnlyBlock
from mmkeras.layers.transformer import FeedForward
from mmkeras.layers.transformer import RMSNormalization
from mmkeras.layers.transformer import TransformerDecoderBlock
from mmkeras.layers.transformer import TransformerEncoderBlock
from mmkeras.layers.vision import ConvStem
from mmkeras.layers.vision import ImageConverter
from mmkeras.layers.vision import PatchEmbedding
from mmkeras.layers.vision_language import GatedCrossAttentionBlock
from mmkeras.layers.vision_language import ImageTokenProjector
from mmkeras.layers.vision_language import PerceiverResampler

__all__ = [
    "AttentionFusion",
    "AttentionFusionHead",
    "BilinearFusion",
    "BilinearFusionHead",
    "CoAttention",
    "CoAttentionFusionHead",
    "ConcatFusion",
    "ConcatFusionHead",
    "ConvStem",
    "DecoderOnlyBlock",
    "FeedForward",
    "FiLM",
    "FiLMFusionHead",
    "GatedCrossAttentionBlock",
    "GatedFusion",
    "HubEncoder",
    "ImageConverter",
    "ImageTokenProjector",
    "LateFusion",
    "MultiHeadAttention",
    "PatchEmbedding",
    "PerceiverResampler",
    "RMSNormalization",
    "RelationFusionHead",
    "RotaryEmbedding",
    "TokenAndPositionEmbedding",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
    "TransformerFusionHead",
    "inside_jit_compile",
]
