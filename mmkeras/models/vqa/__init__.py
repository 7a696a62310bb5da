"""The VQA family: `VQAModel` (image + question -> answer, with a fusion
head of `mmkeras.layers`), its preprocessor and its serving."""

from mmkeras.models.vqa.vqa_model import FUSIONS
from mmkeras.models.vqa.vqa_model import VQAModel
from mmkeras.models.vqa.vqa_preprocessor import VQAPreprocessor
from mmkeras.models.vqa.vqa_serving import VQAServing

__all__ = ["FUSIONS", "VQAModel", "VQAPreprocessor", "VQAServing"]
