"""Tiny task models, untrained, with tokenizers and label names, for tests
and the zoo's test entries; seeded, so their outputs are fixed."""

import keras
import numpy as np

import mmkeras
from mmkeras.models.captioner import builders as caption_builders

FAMILIES = ("captioner", "vqa", "fusion", "dual_encoder")
IMAGE_SIZE = 24
WORDS = ["what", "shape", "colour", "is", "the", "red", "blue", "circle"]
TEXT_LENGTH = 10
ANSWERS = ["circle", "square", "red", "blue"]


def tokenizer():
    reserved = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return mmkeras.text.WordPieceTokenizer(
        reserved + WORDS, sequence_length=TEXT_LENGTH
    )


def _image_encoder():
    return mmkeras.encoders.ConvImageEncoder(
        filters=(8, 16), hidden_dim=16, normalization="layer"
    )


def _text_encoder(vocabulary_size):
    return mmkeras.encoders.TransformerTextEncoder(
        vocabulary_size=vocabulary_size,
        sequence_length=TEXT_LENGTH,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
    )


def model(family, strings=True, **kwargs):
    """A built tiny model of `family`; `strings=False` leaves out the
    tokenizer and label names (tensor signatures only)."""
    keras.utils.set_random_seed(0)
    images = np.zeros((2, IMAGE_SIZE, IMAGE_SIZE, 3), "float32")
    ids = np.ones((2, TEXT_LENGTH), "int32")
    if family == "captioner":
        words = caption_builders.shapes_caption_tokenizer()
        result = mmkeras.models.ImageCaptioner(
            _image_encoder(),
            vocabulary_size=words.vocabulary_size(),
            sequence_length=caption_builders.SEQUENCE_LENGTH,
            hidden_dim=16,
            intermediate_dim=32,
            num_heads=2,
            preprocessor=mmkeras.models.CaptionerPreprocessor(
                mmkeras.layers.ImageConverter((IMAGE_SIZE, IMAGE_SIZE)),
                words if strings else None,
                caption_builders.SEQUENCE_LENGTH,
            ),
            start_token_id=words.start_token_id,
            end_token_id=words.end_token_id,
            **kwargs,
        )
        length = caption_builders.SEQUENCE_LENGTH
        result({"image": images, "token_ids": np.ones((2, length), "int32")})
        return result
    text = tokenizer()
    encoders = (_image_encoder(), _text_encoder(text.vocabulary_size()))
    if family == "vqa":
        result = mmkeras.models.VQAModel(
            *encoders,
            num_answers=len(ANSWERS),
            hidden_dim=16,
            num_heads=2,
            preprocessor=_preprocessor(mmkeras.models.VQAPreprocessor, strings),
            answers=ANSWERS if strings else None,
            **kwargs,
        )
        result({"image": images, "question_ids": ids})
    elif family == "fusion":
        result = mmkeras.models.FusionClassifier(
            *encoders,
            num_classes=3,
            fusion="attention",
            hidden_dim=16,
            num_heads=2,
            preprocessor=_preprocessor(
                mmkeras.models.FusionPreprocessor, strings
            ),
            class_names=["no", "yes", "maybe"] if strings else None,
            **kwargs,
        )
        result({"image": images, "token_ids": ids})
    else:
        result = mmkeras.models.DualEncoder(
            *encoders,
            projection_dim=8,
            preprocessor=_preprocessor(
                mmkeras.models.DualEncoderPreprocessor, strings
            ),
            **kwargs,
        )
        result({"image": images, "token_ids": ids})
    return result


def _preprocessor(cls, strings):
    """A `cls` preprocessor of the tiny image size and `tokenizer()`, or
    None without strings."""
    if not strings:
        return None
    converter = mmkeras.layers.ImageConverter(
        image_size=(IMAGE_SIZE, IMAGE_SIZE)
    )
    return cls(converter, tokenizer())
