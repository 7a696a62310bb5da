"""Question vocabularies of the VQA datasets, built with tensorflow-text's
tool (`mmkeras.text.build_vocabulary`); each is the tokens in id order."""

import functools

from mmkeras.data import _questions
from mmkeras.data._scenes import COLORS
from mmkeras.data.easy_vqa import easy_vqa
from mmkeras.text import build_vocabulary


def easy_vqa_vocabulary():
    """WordPiece over easy-VQA's training questions (27 distinct
    words)."""
    return list(_easy_vqa_vocabulary())


def sort_of_clevr_vocabulary():
    """WordPiece over every Sort-of-CLEVR question: the templates are
    fixed, so the vocabulary is built from all of them."""
    return list(_sort_of_clevr_vocabulary())


@functools.cache
def _easy_vqa_vocabulary():
    questions = easy_vqa("train", batch_size=4096).map(
        lambda e: e["question"]
    )
    return tuple(build_vocabulary(questions, 200))


@functools.cache
def _sort_of_clevr_vocabulary():
    questions = [
        template.format(color)
        for template in _questions.QUESTION_TEMPLATES
        for color in COLORS
    ]
    return tuple(build_vocabulary(questions * 4, 200))
