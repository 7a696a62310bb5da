"""ShapeWorld-style captions (Kuhnle & Copestake 2017) about a `Scene`.

A caption names an object by colour and shape ("a red circle") and either
claims it exists or relates it to a second one ("a red circle is left of a
blue square"). False captions differ from a true one in one colour, shape
or relation, and are checked to be false of the scene.
"""

import dataclasses

from mmkeras.data._scenes import COLORS
from mmkeras.data._scenes import SHAPES
from mmkeras.data._scenes import WITHHELD

# Relation -> whether it holds from object a to object b. Rows grow down,
# so "above" is the smaller y.
RELATIONS = {
    "left of": lambda a, b: a.x < b.x,
    "right of": lambda a, b: a.x > b.x,
    "above": lambda a, b: a.y < b.y,
    "below": lambda a, b: a.y > b.y,
}


# Why a caption of the grammar is false of a scene, as `Caption.falsehood`
# tells: the last means the subject is the extreme object that way, so
# no reference could make the relation true.
FALSEHOODS = (
    "subject not in the scene",
    "reference not in the scene",
    "wrong reference for the relation",
    "no object stands in that relation",
)


@dataclasses.dataclass(frozen=True)
class Caption:
    subject: tuple
    relation: str = None
    reference: tuple = None
    there_is: bool = False

    @property
    def text(self):
        subject = _noun_phrase(self.subject)
        if self.relation is None:
            return f"there is {subject}" if self.there_is else subject
        reference = _noun_phrase(self.reference)
        if self.there_is:
            return f"there is {subject} {self.relation} {reference}"
        return f"{subject} is {self.relation} {reference}"

    def is_true(self, scene):
        return self.falsehood(scene) is None

    def falsehood(self, scene):
        """Why the caption is false of `scene` (one of `FALSEHOODS`), or
        None if it is true."""
        subject = _match(scene, self.subject)
        if subject is None:
            return "subject not in the scene"
        if self.relation is None:
            return None
        reference = _match(scene, self.reference)
        if reference is None:
            return "reference not in the scene"
        holds = RELATIONS[self.relation]
        if holds(subject, reference):
            return None
        if any(holds(subject, o) for o in scene.objects if o is not subject):
            return "wrong reference for the relation"
        return "no object stands in that relation"


def true_captions(scene, split):
    """Every true caption of `scene` that `split` may show, in a fixed
    order."""
    pairs = [(o.color, o.shape) for o in scene.objects]
    candidates = [
        Caption(a, relation, b, there_is)
        for there_is in (False, True)
        for a in pairs
        for relation in (None, *RELATIONS)
        for b in ([None] if relation is None else pairs)
        if a != b
    ]
    return [c for c in candidates if c.is_true(scene) and _allowed(c, split)]


def false_variants(caption, scene, split):
    """Captions one colour, shape or relation away from `caption` that are
    false of `scene` and allowed in `split`."""
    variants = []
    for field in ("subject", "reference"):
        pair = getattr(caption, field)
        if pair is None:
            continue
        changed = [(c, pair[1]) for c in COLORS if c != pair[0]]
        changed += [(pair[0], s) for s in SHAPES if s != pair[1]]
        variants += [
            dataclasses.replace(caption, **{field: p}) for p in changed
        ]
    if caption.relation is not None:
        variants += [
            dataclasses.replace(caption, relation=r)
            for r in RELATIONS
            if r != caption.relation
        ]
    return [
        v
        for v in variants
        if not v.is_true(scene)
        and _allowed(v, split)
        and (v.reference is None or v.subject[0] != v.reference[0])
    ]


def _noun_phrase(pair):
    color, shape = pair
    return f"{'an' if color[0] in 'aeiou' else 'a'} {color} {shape}"


def _match(scene, pair):
    obj = scene.find(pair[0])
    return obj if obj is not None and obj.shape == pair[1] else None


def _allowed(caption, split):
    return split != "train" or not (
        {caption.subject, caption.reference} & set(WITHHELD)
    )
