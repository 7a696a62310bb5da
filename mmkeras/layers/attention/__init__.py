from mmkeras.layers.attention.co_attention import CoAttention
from mmkeras.layers.attention.multi_head_attention import MultiHeadAttention

__all__ = ["CoAttention", "MultiHeadAttention"]
