"""Builders of hybrid fusion classifiers."""

from mmkeras.models import _tiny
from mmkeras.models.fusion import FusionPreprocessor
from mmkeras.models.hybrid_fusion.hybrid_fusion_classifier import (
    HybridFusionClassifier,
)


def tiny(strings=True, **kwargs):
    """A built, untrained tiny hybrid fusion classifier
    (`test_hybrid_fusion.tiny`); `strings=False` leaves out the
    preprocessor and the class names. Seed first
    (`mmkeras.testing.tiny_models.model` does)."""
    words = _tiny.tokenizer()
    model = HybridFusionClassifier(
        _tiny.image_encoder(),
        _tiny.text_encoder(words.vocabulary_size()),
        num_classes=3,
        hidden_dim=16,
        preprocessor=_tiny.preprocessor(FusionPreprocessor, strings),
        class_names=["no", "yes", "maybe"] if strings else None,
        **kwargs,
    )
    model({"image": _tiny.images(), "token_ids": _tiny.token_ids()})
    return model
