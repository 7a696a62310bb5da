"""The hybrid fusion family: `HybridFusionClassifier`, early and late
fusion together. It takes the fusion family's preprocessor and serving."""

from mmkeras.models.hybrid_fusion.hybrid_fusion_classifier import (
    HybridFusionClassifier,
)

__all__ = ["HybridFusionClassifier"]
