"""Builders of ViLT VQA models: the tiny test model and easy-VQA's."""

from mmkeras.data.easy_vqa import easy_vqa_answers
from mmkeras.models import _tiny
from mmkeras.models.builders import register_builder
from mmkeras.models.vilt import builders as vilt_builders
from mmkeras.models.vilt_vqa.vilt_vqa import ViLTVQA
from mmkeras.models.vqa.vqa_preprocessor import VQAPreprocessor


def tiny(strings=True, **kwargs):
    """A built, untrained tiny ViLT VQA model (`test_vilt_vqa.tiny`)
    answering `_tiny.ANSWERS`; `strings=False` leaves out the
    preprocessor and the answer names. Seed first
    (`mmkeras.testing.tiny_models.model` does)."""
    words = _tiny.tokenizer()
    model = ViLTVQA(
        vilt_builders.tiny_backbone(words.vocabulary_size(), **kwargs),
        num_answers=len(_tiny.ANSWERS),
        preprocessor=_tiny.preprocessor(VQAPreprocessor, strings),
        answers=_tiny.ANSWERS if strings else None,
    )
    model({"image": _tiny.images(), "question_ids": _tiny.token_ids()})
    return model


@register_builder("vilt_easy_vqa")
def easy_vqa(backbone=None, learning_rate=3e-4, decay_steps=None, emoji=False):
    """ViLT VQA on easy-VQA, fine-tuning `backbone` (a pretrained
    `ViLTBackbone`) or a new small backbone; `emoji`: the words of the
    pretrainer of that name (`vilt.builders.tokenizer`)."""
    tokenizer = vilt_builders.tokenizer(emoji)
    answers = list(easy_vqa_answers())
    model = ViLTVQA(
        backbone or vilt_builders.small_backbone(tokenizer.vocabulary_size()),
        num_answers=len(answers),
        preprocessor=VQAPreprocessor(vilt_builders.converter(), tokenizer),
        answers=answers,
    )
    model.compile(optimizer=vilt_builders.adamw(learning_rate, decay_steps))
    return model
