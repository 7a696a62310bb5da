"""Task models, each composed from `mmkeras.encoders` and `mmkeras.layers`,
with a default `compile()` so `fit` works with no arguments, and a
`tf.data` preprocessor from raw dataset dicts to model inputs."""

from mmkeras.models.captioner import CaptionerPreprocessor
from mmkeras.models.captioner import ImageCaptioner
from mmkeras.models.causal_lm import CausalLM
from mmkeras.models.causal_lm import CausalLMBackbone
from mmkeras.models.causal_lm import CausalLMPreprocessor
from mmkeras.models.dual_encoder import DualEncoder
from mmkeras.models.dual_encoder import DualEncoderPreprocessor
from mmkeras.models.dual_encoder import RetrievalIndex
from mmkeras.models.fusion import FusionClassifier
from mmkeras.models.fusion import FusionPreprocessor
from mmkeras.models.generative_serving import GenerativeServing
from mmkeras.models.hybrid_fusion import HybridFusionClassifier
from mmkeras.models.task import Task
from mmkeras.models.vilt import ViLTPretrainer
from mmkeras.models.vilt_vqa import ViLTVQA
from mmkeras.models.vision_language import VisionLanguageModel
from mmkeras.models.vqa import VQAModel
from mmkeras.models.vqa import VQAPreprocessor

__all__ = [
    "CaptionerPreprocessor",
    "CausalLM",
    "CausalLMBackbone",
    "CausalLMPreprocessor",
    "DualEncoder",
    "DualEncoderPreprocessor",
    "FusionClassifier",
    "FusionPreprocessor",
    "GenerativeServing",
    "HybridFusionClassifier",
    "ImageCaptioner",
    "RetrievalIndex",
    "Task",
    "ViLTPretrainer",
    "ViLTVQA",
    "VisionLanguageModel",
    "VQAModel",
    "VQAPreprocessor",
]
