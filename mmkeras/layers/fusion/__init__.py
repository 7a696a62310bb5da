"""Fusion of modalities. The `*FusionHead` layers fuse image tokens with a
question (or any text) into one vector for a task's classifier, all
called as `head(image_tokens, question_tokens, question_mask,
question_pooled)`: image tokens `(batch, N, D_i)`, question tokens
`(batch, T, D_q)`, their mask `(batch, T)` (True for real tokens) and the
pooled question `(batch, D_p)`. `mmkeras.models.VQAModel(fusion=...)`
takes them; a head whose `image_attention` draws where the question
looked (co-attention, bilinear, attention) is what `VQAModel.explain`
needs."""

from mmkeras.layers.fusion.attention_fusion import AttentionFusion
from mmkeras.layers.fusion.attention_fusion_head import AttentionFusionHead
from mmkeras.layers.fusion.bilinear_fusion import BilinearFusion
from mmkeras.layers.fusion.bilinear_fusion_head import BilinearFusionHead
from mmkeras.layers.fusion.co_attention_fusion_head import CoAttentionFusionHead
from mmkeras.layers.fusion.concat_fusion import ConcatFusion
from mmkeras.layers.fusion.concat_fusion_head import ConcatFusionHead
from mmkeras.layers.fusion.film import FiLM
from mmkeras.layers.fusion.film_fusion_head import FiLMFusionHead
from mmkeras.layers.fusion.gated_fusion import GatedFusion
from mmkeras.layers.fusion.late_fusion import LateFusion
from mmkeras.layers.fusion.relation_fusion_head import RelationFusionHead
from mmkeras.layers.fusion.transformer_fusion_head import TransformerFusionHead

__all__ = [
    "AttentionFusion",
    "AttentionFusionHead",
    "BilinearFusion",
    "BilinearFusionHead",
    "CoAttentionFusionHead",
    "ConcatFusion",
    "ConcatFusionHead",
    "FiLM",
    "FiLMFusionHead",
    "GatedFusion",
    "LateFusion",
    "RelationFusionHead",
    "TransformerFusionHead",
]
