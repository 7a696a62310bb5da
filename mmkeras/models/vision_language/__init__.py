"""The vision-language family: `VisionLanguageModel` (a frozen language
model that sees images through Flamingo's gated cross-attention or a
LLaVA-style prefix), its `VisionLanguagePreprocessor` and builders."""

from mmkeras.models.vision_language.vision_language_model import (
    VisionLanguageModel,
)
from mmkeras.models.vision_language.vision_language_preprocessor import (
    VisionLanguagePreprocessor,
)
from mmkeras.models.vision_language.vision_language_serving import (
    VisionLanguageServing,
)

__all__ = [
    "VisionLanguageModel",
    "VisionLanguagePreprocessor",
    "VisionLanguageServing",
]
