"""Builders of captioners for shapes scenes (`mmkeras.data.splits.
caption_splits`), over the closed caption grammar's vocabulary."""

import functools

import keras

from mmkeras.data._scenes import IMAGE_SIZE
from mmkeras.data.caption_grammar import caption_vocabulary
from mmkeras.encoders import ConvImageEncoder
from mmkeras.layers import ImageConverter
from mmkeras.models import _tiny
from mmkeras.models.builders import register_builder
from mmkeras.models.captioner.captioner_preprocessor import (
    CaptionerPreprocessor,
)
from mmkeras.models.captioner.image_captioner import ImageCaptioner
from mmkeras.text import WordPieceTokenizer

# Start token, the longest caption (10 words) and the end token, shifted.
SEQUENCE_LENGTH = 12


@functools.cache
def shapes_caption_tokenizer():
    """WordPiece over the fixed caption grammar (every word is a token),
    adding the start and end tokens, `SEQUENCE_LENGTH + 1` ids."""
    return WordPieceTokenizer(
        caption_vocabulary(),
        sequence_length=SEQUENCE_LENGTH + 1,
        add_start_end=True,
    )


def shapes_caption_preprocessor():
    """75x75 scenes in [0, 1] and captions through the grammar's
    tokenizer, teacher-forced to `SEQUENCE_LENGTH` ids."""
    return CaptionerPreprocessor(
        ImageConverter(image_size=(IMAGE_SIZE, IMAGE_SIZE)),
        shapes_caption_tokenizer(),
        SEQUENCE_LENGTH,
    )


@register_builder("shapes_captioner")
def shapes_captioner(
    hidden_dim=128,
    num_layers=2,
    learning_rate=1e-3,
    max_length=None,
    normalization="group",
    filters=(32, 64, 128, 128),
    decay_steps=None,
    coordinates=False,
    normalize_tokens=True,
    token_coordinates=False,
    context_layers=0,
    num_heads=4,
    image_encoder=None,
):
    """A compiled captioner: a CNN (`filters`: stride-2 blocks, 75x75 ->
    5x5 = 25 image tokens with 4, then `context_layers` dilated blocks)
    and a `num_layers` transformer decoder of width `hidden_dim`.

    `max_length` raises the sequence length (for decoding-speed runs; the
    model then has no preprocessor); `image_encoder` replaces the CNN
    (and its arguments) with any layer that returns `{"tokens": ...}`.
    `normalization="group"` (default) gives the same features in fit and
    generate and on any number of replicas, and sees the gray object that
    per-pixel layer norm cannot tell from the white page;
    `token_coordinates` tags the image tokens with their grid position
    (`ImageCaptioner(coordinates=True)`); `decay_steps` decays the
    learning rate to 0 along a cosine.
    """
    if image_encoder is None:
        image_encoder = ConvImageEncoder(
            filters=filters,
            hidden_dim=hidden_dim,
            normalization=normalization,
            coordinates=coordinates,
            normalize_tokens=normalize_tokens,
            context_layers=context_layers,
        )
    tokenizer = shapes_caption_tokenizer()
    result = ImageCaptioner(
        image_encoder,
        vocabulary_size=tokenizer.vocabulary_size(),
        sequence_length=max_length or SEQUENCE_LENGTH,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=hidden_dim * 4,
        coordinates=token_coordinates,
        preprocessor=(
            shapes_caption_preprocessor() if max_length is None else None
        ),
        start_token_id=tokenizer.start_token_id,
        end_token_id=tokenizer.end_token_id,
    )
    if decay_steps:
        # Decaying to zero settles the weights and the batch-norm
        # statistics, so the final model is not caught mid-swing.
        learning_rate = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps
        )
    result.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return result


def tiny(strings=True, **kwargs):
    """A built, untrained tiny captioner (`test_captioner.tiny`) with the
    shapes caption vocabulary; `strings=False` leaves out the tokenizer.
    Seed first (`mmkeras.testing.tiny_models.model` does)."""
    words = shapes_caption_tokenizer()
    model = ImageCaptioner(
        _tiny.image_encoder(),
        vocabulary_size=words.vocabulary_size(),
        sequence_length=SEQUENCE_LENGTH,
        hidden_dim=16,
        intermediate_dim=32,
        num_heads=2,
        preprocessor=CaptionerPreprocessor(
            _tiny.converter(), words if strings else None, SEQUENCE_LENGTH
        ),
        start_token_id=words.start_token_id,
        end_token_id=words.end_token_id,
        **kwargs,
    )
    ids = _tiny.token_ids(length=SEQUENCE_LENGTH)
    model({"image": _tiny.images(), "token_ids": ids})
    return model
