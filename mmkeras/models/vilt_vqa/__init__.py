"""ViLT fine-tuned for VQA (`ViLTVQA`): a `ViLTBackbone`, pretrained by
`mmkeras.models.ViLTPretrainer` or new, with answers as classes, trained
through `VQAPreprocessor` and exported as `VQAModel` is."""

from mmkeras.models.vilt_vqa.vilt_vqa import ViLTVQA
from mmkeras.models.vilt_vqa.vilt_vqa_serving import ViLTVQAServing

__all__ = ["ViLTVQA", "ViLTVQAServing"]
