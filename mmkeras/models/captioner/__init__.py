"""The captioner family: `ImageCaptioner` (an image encoder and a
transformer decoder over a KV cache), its `CaptionerPreprocessor` and its
`CaptionerServing`."""

from mmkeras.models.captioner.captioner_preprocessor import (
    CaptionerPreprocessor,
)
from mmkeras.models.captioner.captioner_serving import CaptionerServing
from mmkeras.models.captioner.image_captioner import ImageCaptioner

__all__ = ["CaptionerPreprocessor", "CaptionerServing", "ImageCaptioner"]
