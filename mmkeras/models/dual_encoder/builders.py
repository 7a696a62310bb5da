"""Builders of dual encoders: for shapes captions (`mmkeras.data.splits.
caption_pairs`), tiny towers trained from scratch or the zoo's pretrained
EfficientNet-Lite0 and all-MiniLM-L6-v2 fine-tuned; for emoji
(`mmkeras.data.emoji`), both pretrained towers locked (LiT)."""

import keras

from mmkeras.data._scenes import IMAGE_SIZE
from mmkeras.data.caption_grammar import CAPTION_VOCABULARY
from mmkeras.encoders import BertTextEncoder
from mmkeras.encoders import ConvImageEncoder
from mmkeras.encoders import EfficientNetLite0Encoder
from mmkeras.encoders import TransformerTextEncoder
from mmkeras.layers import ImageConverter
from mmkeras.models import _tiny
from mmkeras.models.builders import register_builder
from mmkeras.models.dual_encoder.dual_encoder import DualEncoder
from mmkeras.models.dual_encoder.dual_encoder_preprocessor import (
    DualEncoderPreprocessor,
)
from mmkeras.text import WordPieceTokenizer
from mmkeras.zoo import registry

# Token ids per caption: at most 11 words, and [CLS] ... [SEP] for MiniLM.
SEQUENCE_LENGTH = 16
TEXT_ENTRY = "minilm_l6.sentence"


@register_builder("shapes_dual_encoder")
def shapes_dual_encoder(projection_dim=64, learning_rate=1e-3):
    """A compiled tiny conv + transformer dual encoder (max-pooled image)
    over the closed vocabulary of the captions."""
    # Objects are a few pixels on a white page: mean pooling, or layer
    # norm in the stem, left every image embedding alike and the loss
    # stuck at log(batch size) from the start.
    image_encoder = ConvImageEncoder.from_preset(
        "tiny", normalization="batch", pooling="max"
    )
    text_encoder = TransformerTextEncoder.from_preset(
        "tiny",
        vocabulary_size=len(CAPTION_VOCABULARY),
        sequence_length=SEQUENCE_LENGTH,
        dropout=0.0,
    )
    tokenizer = WordPieceTokenizer(
        CAPTION_VOCABULARY, sequence_length=SEQUENCE_LENGTH
    )
    result = DualEncoder(
        image_encoder,
        text_encoder,
        projection_dim,
        preprocessor=_preprocessor(IMAGE_SIZE, tokenizer),
    )
    return _compiled(result, learning_rate)


@register_builder("pretrained_dual_encoder")
def pretrained_dual_encoder(
    projection_dim=256, learning_rate=3e-4, image_size=IMAGE_SIZE
):
    """A compiled dual encoder on the zoo's pretrained towers, with new
    projections: EfficientNet-Lite0's ImageNet weights without the
    classifier (`image_tower`) and all-MiniLM-L6-v2, frozen (LiT, Zhai et
    al. 2022, locks one tower), with MiniLM's vocabulary."""
    tokenizer = WordPieceTokenizer(
        registry.download(TEXT_ENTRY)["vocab.txt"],
        sequence_length=SEQUENCE_LENGTH,
        add_start_end=True,
    )
    text_tower = BertTextEncoder.from_preset("minilm_l6")
    text_tower.trainable = False
    result = DualEncoder(
        image_tower(image_size),
        text_tower,
        projection_dim,
        preprocessor=_preprocessor(image_size, tokenizer),
    )
    return _compiled(result, learning_rate)


@register_builder("emoji_dual_encoder")
def emoji_dual_encoder(
    projection_dim=256,
    learning_rate=1e-3,
    image_size=112,
    sequence_length=SEQUENCE_LENGTH,
    pretrained=True,
):
    """A compiled LiT dual encoder (Zhai et al. 2022) for emoji: both
    towers locked, EfficientNet-Lite0 with its ImageNet weights for [0,
    1] images of `image_size` and all-MiniLM-L6-v2, so only the two
    projections and the temperature train. Captions longer than
    `sequence_length` tokens are truncated (the canonical emoji caption
    puts the name first). `pretrained=False` gives both towers random
    weights: the baseline that shows what pretraining brings."""
    tokenizer = WordPieceTokenizer(
        registry.download(TEXT_ENTRY)["vocab.txt"],
        sequence_length=sequence_length,
        add_start_end=True,
    )
    text_tower = BertTextEncoder.from_preset(
        "minilm_l6", load_weights=pretrained
    )
    towers = (image_tower(image_size, pretrained), text_tower)
    for tower in towers:
        tower.trainable = False
    result = DualEncoder(
        *towers,
        projection_dim,
        preprocessor=_preprocessor(image_size, tokenizer),
    )
    return _compiled(result, learning_rate)


def image_tower(image_size=IMAGE_SIZE, pretrained=True):
    """EfficientNet-Lite0 without its classifier, for [0, 1] images of
    `image_size`, with the ImageNet weights of `efficientnet_lite0.
    imagenet` if `pretrained`."""
    # Fine-tune the convolutions only: trained batch norm would swap the
    # ImageNet statistics for those of white scenes in 64-image batches,
    # and evaluation (moving averages) would see other features than
    # training did.
    tower = EfficientNetLite0Encoder.from_preset(
        "lite0", input_scale=1.0, freeze_batch_norm=True
    )
    # Built for its own image size: the stride-2 padding depends on it.
    tower.build((None, image_size, image_size, 3))
    if pretrained:
        classifier = EfficientNetLite0Encoder.from_preset(
            "lite0_imagenet_classifier"
        )
        # By name within the encoder ("stem_bn/gamma", ...): every weight
        # but the classifier's.
        imagenet = {w.path.split("/", 1)[1]: w for w in classifier.weights}
        for weight in tower.weights:
            weight.assign(imagenet[weight.path.split("/", 1)[1]])
    return tower


def _preprocessor(image_size, tokenizer):
    # [0, 1] images: the towers take them so (EfficientNet through its
    # `input_scale=1.0`).
    converter = ImageConverter(image_size=(image_size, image_size))
    return DualEncoderPreprocessor(converter, tokenizer)


def _compiled(model, learning_rate):
    optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=0.01)
    optimizer.exclude_from_weight_decay(var_names=["log_logit_scale"])
    model.compile(optimizer=optimizer)
    return model


def tiny(strings=True, **kwargs):
    """A built, untrained tiny dual encoder (`test_dual_encoder.tiny`);
    `strings=False` leaves out the preprocessor. Seed first
    (`mmkeras.testing.tiny_models.model` does)."""
    words = _tiny.tokenizer()
    model = DualEncoder(
        _tiny.image_encoder(),
        _tiny.text_encoder(words.vocabulary_size()),
        projection_dim=8,
        preprocessor=_tiny.preprocessor(DualEncoderPreprocessor, strings),
        **kwargs,
    )
    model({"image": _tiny.images(), "token_ids": _tiny.token_ids()})
    return model
