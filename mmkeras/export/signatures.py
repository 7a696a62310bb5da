"""What each task model exports: its serving functions, example inputs for
verification, and the Keras model's own outputs for those inputs.

Every family has string signatures (encoded image bytes and UTF-8 text in,
strings or scores out; decoding, tokenization and detokenization in the
graph) where the model carries a tokenizer, tensor signatures (pixels and
token ids) always, and ONNX graphs built from the tensor signatures.
Images in all signatures are float32 RGB in [0, 1], as
`mmkeras.data.preprocess_image` makes them.
"""

from mmkeras.export._captioner import CaptionerFamily
from mmkeras.export._classifiers import FusionFamily
from mmkeras.export._classifiers import VQAFamily
from mmkeras.export._dual_encoder import DualEncoderFamily
from mmkeras.export._family import ExportError
from mmkeras.export._family import Family
from mmkeras.export._family import decode_images
from mmkeras.models import DualEncoder
from mmkeras.models import FusionClassifier
from mmkeras.models import ImageCaptioner
from mmkeras.models import VQAModel

__all__ = [
    "CaptionerFamily",
    "DualEncoderFamily",
    "ExportError",
    "Family",
    "FusionFamily",
    "VQAFamily",
    "decode_images",
    "for_model",
]


def for_model(model, sampler="greedy"):
    """The `Family` of `model`; `sampler` decodes exported captions."""
    if isinstance(model, ImageCaptioner):
        return CaptionerFamily(model, sampler)
    for cls, family in _FAMILIES.items():
        if isinstance(model, cls):
            return family(model)
    names = ", ".join(cls.__name__ for cls in (ImageCaptioner, *_FAMILIES))
    raise ExportError(
        f"mmkeras exports {names} models. Received: a {type(model).__name__}"
    )


_FAMILIES = {
    VQAModel: VQAFamily,
    FusionClassifier: FusionFamily,
    DualEncoder: DualEncoderFamily,
}
