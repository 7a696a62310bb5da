from mmkeras.layers.fusion.attention_fusion import AttentionFusion
from mmkeras.layers.fusion.bilinear_fusion import BilinearFusion
from mmkeras.layers.fusion.concat_fusion import ConcatFusion
from mmkeras.layers.fusion.film import FiLM
from mmkeras.layers.fusion.gated_fusion import GatedFusion
from mmkeras.layers.fusion.late_fusion import LateFusion

__all__ = [
    "AttentionFusion",
    "BilinearFusion",
    "ConcatFusion",
    "FiLM",
    "GatedFusion",
    "LateFusion",
]
