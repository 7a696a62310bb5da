"""The parts every family's `builders.tiny` shares: a 24x24 conv image
encoder, a one-block text encoder and an 8-word tokenizer. Tiny models
are untrained and seeded (`mmkeras.testing.tiny_models`), so their
outputs are fixed: the `test_<family>.tiny` zoo entries."""

import numpy as np

from mmkeras.encoders import ConvImageEncoder
from mmkeras.encoders import TransformerTextEncoder
from mmkeras.layers import ImageConverter
from mmkeras.text import WordPieceTokenizer

IMAGE_SIZE = 24
WORDS = ["what", "shape", "colour", "is", "the", "red", "blue", "circle"]
TEXT_LENGTH = 10
ANSWERS = ["circle", "square", "red", "blue"]


def tokenizer():
    reserved = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return WordPieceTokenizer(reserved + WORDS, sequence_length=TEXT_LENGTH)


def image_encoder():
    return ConvImageEncoder(
        filters=(8, 16), hidden_dim=16, normalization="layer"
    )


def text_encoder(vocabulary_size):
    return TransformerTextEncoder(
        vocabulary_size=vocabulary_size,
        sequence_length=TEXT_LENGTH,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
    )


def converter():
    return ImageConverter(image_size=(IMAGE_SIZE, IMAGE_SIZE))


def preprocessor(cls, strings):
    """A `cls` preprocessor of the tiny image size and `tokenizer()`, or
    None without strings."""
    return cls(converter(), tokenizer()) if strings else None


def images(batch_size=2):
    return np.zeros((batch_size, IMAGE_SIZE, IMAGE_SIZE, 3), "float32")


def token_ids(batch_size=2, length=TEXT_LENGTH):
    return np.ones((batch_size, length), "int32")
