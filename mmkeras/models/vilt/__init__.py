"""The ViLT family: a single-stream image-text transformer
(`ViLTBackbone`), pretrained with ITM, MLM and ITC (`ViLTPretrainer`,
`ViLTPreprocessor`); `mmkeras.models.vilt_vqa` fine-tunes it for VQA."""

from mmkeras.models.vilt.vilt_backbone import ViLTBackbone
from mmkeras.models.vilt.vilt_preprocessor import ViLTPreprocessor
from mmkeras.models.vilt.vilt_pretrainer import ViLTPretrainer
from mmkeras.models.vilt.vilt_serving import ViLTServing

__all__ = [
    "ViLTBackbone",
    "ViLTPreprocessor",
    "ViLTPretrainer",
    "ViLTServing",
]
