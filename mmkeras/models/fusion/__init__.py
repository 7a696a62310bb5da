"""The fusion family: `FusionClassifier` (image + text classification with
a choice of fusion), its preprocessor and its serving."""

from mmkeras.models.fusion.fusion_classifier import FUSIONS
from mmkeras.models.fusion.fusion_classifier import FusionClassifier
from mmkeras.models.fusion.fusion_preprocessor import FusionPreprocessor
from mmkeras.models.fusion.fusion_serving import FusionServing

__all__ = [
    "FUSIONS",
    "FusionClassifier",
    "FusionPreprocessor",
    "FusionServing",
]
