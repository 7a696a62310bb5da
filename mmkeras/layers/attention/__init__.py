from mmkeras.layers.attention.co_attention import CoAttention
from mmkeras.layers.attention.multi_head_attention import MultiHeadAttention
from mmkeras.layers.attention.rotary_embedding import RotaryEmbedding

__all__ = ["CoAttention", "MultiHeadAttention", "RotaryEmbedding"]
