"""Sort-of-CLEVR questions (Santoro et al. 2017) about a `Scene`."""

import collections

import numpy as np

from mmkeras.data._scenes import COLORS
from mmkeras.data._scenes import IMAGE_SIZE
from mmkeras.data._scenes import SHAPES

ANSWERS = SHAPES + ("left", "right", "top", "bottom") + tuple("123456")
# One per (kind, subtype), in the order of the encoding: the non-relational
# subtypes first, then the relational ones.
QUESTION_TEMPLATES = (
    "what is the shape of the {} object?",
    "is the {} object on the left or right?",
    "is the {} object on the top or bottom?",
    "what is the shape of the object closest to the {} object?",
    "what is the shape of the object furthest from the {} object?",
    "how many objects have the same shape as the {} object?",
)
KINDS = ("non-relational", "relational")
# The paper's encoding: colour one-hot, kind one-hot, subtype one-hot.
ENCODING_SIZE = len(COLORS) + len(KINDS) + 3
QUESTIONS_PER_KIND = 10

Question = collections.namedtuple("Question", "text encoding answer")


def questions(scene, rng):
    """Returns 10 non-relational then 10 relational `Question`s, each about
    a colour and a subtype drawn from `rng`, as in the paper's generator."""
    result = []
    for kind in KINDS:
        for _ in range(QUESTIONS_PER_KIND):
            color = COLORS[rng.integers(len(COLORS))]
            subtype = int(rng.integers(3))
            result.append(_question(scene, color, kind, subtype))
    return result


def _question(scene, color, kind, subtype):
    index = KINDS.index(kind) * 3 + subtype
    encoding = np.zeros(ENCODING_SIZE, np.float32)
    encoding[COLORS.index(color)] = 1.0
    encoding[len(COLORS) + KINDS.index(kind)] = 1.0
    encoding[len(COLORS) + len(KINDS) + subtype] = 1.0
    text = QUESTION_TEMPLATES[index].format(color)
    return Question(
        text, encoding, _ANSWER_FNS[index](scene, scene.find(color))
    )


def _shape(scene, obj):
    return obj.shape


def _horizontal(scene, obj):
    return "left" if obj.x < IMAGE_SIZE // 2 else "right"


def _vertical(scene, obj):
    return "top" if obj.y < IMAGE_SIZE // 2 else "bottom"


def _closest(scene, obj):
    return min(_others(scene, obj), key=lambda o: _distance(o, obj)).shape


def _furthest(scene, obj):
    return max(_others(scene, obj), key=lambda o: _distance(o, obj)).shape


def _count(scene, obj):
    return str(sum(o.shape == obj.shape for o in scene.objects))


def _others(scene, obj):
    return [o for o in scene.objects if o is not obj]


def _distance(a, b):
    return (a.x - b.x) ** 2 + (a.y - b.y) ** 2


_ANSWER_FNS = (_shape, _horizontal, _vertical, _closest, _furthest, _count)
