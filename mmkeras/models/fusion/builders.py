"""Builders of fusion classifiers for the datasets of `mmkeras.data`."""

import keras

from mmkeras.data.color_match import CLASS_NAMES
from mmkeras.data.color_match import IMAGE_SIZE
from mmkeras.data.color_match import VOCABULARY
from mmkeras.encoders import ConvImageEncoder
from mmkeras.encoders import TransformerTextEncoder
from mmkeras.layers import ImageConverter
from mmkeras.models import _tiny
from mmkeras.models.builders import register_builder
from mmkeras.models.fusion.fusion_classifier import FusionClassifier
from mmkeras.models.fusion.fusion_preprocessor import FusionPreprocessor
from mmkeras.text import WordPieceTokenizer

# Token ids per text: the longest colour-match text has 4 words.
COLOR_MATCH_TEXT_LENGTH = 8


def color_match_preprocessor():
    """32x32 images in [0, 1] and the colour-match vocabulary's tokenizer
    (`mmkeras.data.color_match.VOCABULARY`)."""
    size = (IMAGE_SIZE, IMAGE_SIZE)
    return FusionPreprocessor(
        ImageConverter(image_size=size),
        WordPieceTokenizer(
            VOCABULARY, sequence_length=COLOR_MATCH_TEXT_LENGTH
        ),
    )


@register_builder("color_match_fusion")
def color_match_fusion(
    fusion="concat", hidden_dim=64, dropout=0.0, learning_rate=1e-3
):
    """A compiled `FusionClassifier` for colour match (`mmkeras.data.
    color_match`): tiny conv and transformer encoders, `fusion` between
    them, Adam at `learning_rate`."""
    image_encoder = ConvImageEncoder.from_preset(
        # A small shape on a white page: max pooling keeps its colour,
        # which a mean over the page dilutes too much for bilinear fusion.
        "tiny",
        normalization="group",
        pooling="max",
    )
    text_encoder = TransformerTextEncoder.from_preset(
        "tiny",
        vocabulary_size=len(VOCABULARY),
        sequence_length=COLOR_MATCH_TEXT_LENGTH,
        dropout=dropout,
    )
    result = FusionClassifier(
        image_encoder,
        text_encoder,
        num_classes=2,
        fusion=fusion,
        hidden_dim=hidden_dim,
        dropout=dropout,
        preprocessor=color_match_preprocessor(),
        class_names=list(CLASS_NAMES),
    )
    result.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return result


def tiny(strings=True, **kwargs):
    """A built, untrained tiny attention-fusion classifier
    (`test_fusion.tiny`); `strings=False` leaves out the preprocessor and
    the class names. Seed first (`mmkeras.testing.tiny_models.model`
    does)."""
    words = _tiny.tokenizer()
    model = FusionClassifier(
        _tiny.image_encoder(),
        _tiny.text_encoder(words.vocabulary_size()),
        num_classes=3,
        fusion="attention",
        hidden_dim=16,
        num_heads=2,
        preprocessor=_tiny.preprocessor(FusionPreprocessor, strings),
        class_names=["no", "yes", "maybe"] if strings else None,
        **kwargs,
    )
    model({"image": _tiny.images(), "token_ids": _tiny.token_ids()})
    return model
