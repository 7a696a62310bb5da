"""Task models, each composed from `mmkeras.encoders` and `mmkeras.layers`,
with a default `compile()` so `fit` works with no arguments, and a
`tf.data` preprocessor from raw dataset dicts to model inputs."""

from mmkeras.models.dual_encoder import DualEncoder
from mmkeras.models.dual_encoder import DualEncoderPreprocessor
from mmkeras.models.fusion import FusionClassifier
from mmkeras.models.fusion import FusionPreprocessor
from mmkeras.models.image_captioner import ImageCaptioner
from mmkeras.models.image_captioner import caption_preprocessor
from mmkeras.models.task import Task
from mmkeras.models.vqa_model import VQAModel
from mmkeras.models.vqa_model import vqa_preprocessor

__all__ = [
    "DualEncoder",
    "DualEncoderPreprocessor",
    "FusionClassifier",
    "FusionPreprocessor",
    "ImageCaptioner",
    "Task",
    "VQAModel",
    "caption_preprocessor",
    "vqa_preprocessor",
]
