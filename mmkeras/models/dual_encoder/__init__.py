"""The dual encoder family: `DualEncoder` (CLIP-style contrastive image
and text towers), its preprocessor and its serving."""

from mmkeras.models.dual_encoder.dual_encoder import DualEncoder
from mmkeras.models.dual_encoder.dual_encoder_preprocessor import (
    DualEncoderPreprocessor,
)
from mmkeras.models.dual_encoder.dual_encoder_serving import DualEncoderServing
from mmkeras.models.dual_encoder.retrieval_index import RetrievalIndex

__all__ = [
    "DualEncoder",
    "DualEncoderPreprocessor",
    "DualEncoderServing",
    "RetrievalIndex",
]
