"""Shapes datasets, checked against the rendered pixels.

The checks below re-derive objects from the images and answers and caption
truth from those objects with their own code, not the generator's.
"""

import re

import numpy as np
import pytest
import tensorflow as tf

from mmkeras import data

# The documented palette and vocabularies, restated so the tests pin them.
PALETTE = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "orange": (255, 156, 0),
    "gray": (128, 128, 128),
    "yellow": (255, 255, 0),
}
COLORS = list(PALETTE)
ANSWERS = ["circle", "square", "left", "right", "top", "bottom"]
ANSWERS += ["1", "2", "3", "4", "5", "6"]
WITHHELD = {("red", "square"), ("blue", "circle")}
MIDDLE = (75 - 1) / 2
NUM_IMAGES = 24

DATASETS = {
    "sort_of_clevr": data.sort_of_clevr,
    "shapes_captions": data.shapes_captions,
    "shapes_agreement": data.shapes_agreement,
}
SPECS = {
    "image": ((75, 75, 3), tf.uint8),
    "scene": ((6, 5), tf.int32),
    "question": ((), tf.string),
    "question_encoding": ((11,), tf.float32),
    "answer": ((), tf.string),
    "answer_id": ((), tf.int32),
    "caption": ((), tf.string),
    "label": ((), tf.int32),
}
KEYS = {
    "sort_of_clevr": {
        "image",
        "scene",
        "question",
        "question_encoding",
        "answer",
        "answer_id",
    },
    "shapes_captions": {"image", "scene", "caption"},
    "shapes_agreement": {"image", "scene", "caption", "label"},
}

QUESTIONS = [
    r"what is the shape of the (\w+) object\?",
    r"is the (\w+) object on the left or right\?",
    r"is the (\w+) object on the top or bottom\?",
    r"what is the shape of the object closest to the (\w+) object\?",
    r"what is the shape of the object furthest from the (\w+) object\?",
    r"how many objects have the same shape as the (\w+) object\?",
]
NOUN = r"(a|an) (\w+) (circle|square)"
CAPTION = re.compile(
    rf"(there is )?{NOUN}(?:( is)? (left of|right of|above|below) {NOUN})?"
)


def _elements(dataset):
    return [
        {key: _python(value) for key, value in element.items()}
        for element in dataset.as_numpy_iterator()
    ]


def _python(value):
    return value.decode() if isinstance(value, bytes) else value


def _objects(image):
    """Colour -> (shape, x, y), found from the pixels alone."""
    objects = {}
    for color, rgb in PALETTE.items():
        ys, xs = np.nonzero(np.all(image == rgb, axis=-1))
        assert len(xs), f"no {color} pixels"
        box = (xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)
        fill = len(xs) / box
        # A disc fills pi/4 of its bounding box, a square all of it.
        assert abs(fill - np.pi / 4) < 0.05 or fill == 1.0, (color, fill)
        shape = "square" if fill == 1.0 else "circle"
        objects[color] = (shape, xs.mean(), ys.mean())
    return objects


def _answer(objects, subtype, color):
    shape, x, y = objects[color]
    others = [o for c, o in objects.items() if c != color]
    by_distance = sorted(others, key=lambda o: np.hypot(o[1] - x, o[2] - y))
    distances = [np.hypot(o[1] - x, o[2] - y) for o in by_distance]
    if subtype in (3, 4):
        assert len(set(distances)) == len(distances), "ambiguous question"
    return [
        shape,
        "left" if x < MIDDLE else "right",
        "top" if y < MIDDLE else "bottom",
        by_distance[0][0],
        by_distance[-1][0],
        str(sum(o[0] == shape for o in objects.values())),
    ][subtype]


def _parse_caption(caption):
    match = CAPTION.fullmatch(caption)
    assert match, caption
    there, art1, c1, s1, is_, relation, art2, c2, s2 = match.groups()
    for article, color in ((art1, c1), (art2, c2)):
        if article:
            assert article == ("an" if color[0] in "aeiou" else "a"), caption
    if relation:
        assert bool(there) != bool(is_), caption
    return (c1, s1), relation, (c2, s2) if relation else None


def _holds(objects, caption):
    first, relation, second = _parse_caption(caption)
    if objects[first[0]][0] != first[1]:
        return False
    if relation is None:
        return True
    if first[0] == second[0] or objects[second[0]][0] != second[1]:
        return False
    (_, ax, ay), (_, bx, by) = objects[first[0]], objects[second[0]]
    return {
        "left of": ax < bx,
        "right of": ax > bx,
        "above": ay < by,
        "below": ay > by,
    }[relation]


def _mentioned(caption):
    first, _, second = _parse_caption(caption)
    return {first, second} - {None}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_element_specs(name):
    spec = DATASETS[name](2, seed=0).element_spec
    assert set(spec) == KEYS[name]
    for key, tensor_spec in spec.items():
        assert (tensor_spec.shape, tensor_spec.dtype) == SPECS[key], key
    batched = DATASETS[name](2, seed=0, batch_size=3).element_spec
    assert batched["image"].shape.as_list() == [None, 75, 75, 3]


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_same_seed_same_bytes_and_texts(name):
    first = _elements(DATASETS[name](4, seed=7, split="test"))
    second = _elements(DATASETS[name](4, seed=7, split="test"))
    other = _elements(DATASETS[name](4, seed=8, split="test"))
    assert len(first) == len(second) == len(other)
    for a, b in zip(first, second, strict=True):
        for key in a:
            assert np.asarray(a[key]).tobytes() == np.asarray(b[key]).tobytes()
    images = [e["image"].tobytes() for e in first]
    assert images != [e["image"].tobytes() for e in other]
    text = "question" if name == "sort_of_clevr" else "caption"
    assert [e[text] for e in first] != [e[text] for e in other]


def test_fewer_scenes_are_a_prefix():
    assert data.generate_scenes(3, seed=5) == data.generate_scenes(6, 5)[:3]


@pytest.mark.parametrize("split", ["all", "train", "test"])
def test_scenes_have_unique_colours_and_no_overlap(split):
    for scene in data.generate_scenes(NUM_IMAGES, seed=1, split=split):
        assert [o.color for o in scene.objects] == COLORS
        for i, a in enumerate(scene.objects):
            for b in scene.objects[i + 1 :]:
                gap = max(abs(a.x - b.x), abs(a.y - b.y)) - a.size
                assert gap >= 1, (a, b)
        # Pixels: exactly one whole object per colour, nothing hidden.
        image = data.render_scene(scene)
        objects = _objects(image)
        painted = np.any(image != 255, axis=-1).sum()
        counts = [np.all(image == rgb, -1).sum() for rgb in PALETTE.values()]
        assert painted == sum(counts)
        for obj in scene.objects:
            assert objects[obj.color] == (obj.shape, obj.x, obj.y)


def test_sort_of_clevr_answers_from_pixels():
    elements = _elements(data.sort_of_clevr(NUM_IMAGES, seed=2))
    assert len(elements) == 20 * NUM_IMAGES
    seen = set()
    for element in elements:
        objects = _objects(element["image"])
        subtype, color = next(
            (i, m.group(1))
            for i, pattern in enumerate(QUESTIONS)
            if (m := re.fullmatch(pattern, element["question"]))
        )
        assert element["answer"] == _answer(objects, subtype, color)
        assert element["answer_id"] == ANSWERS.index(element["answer"])
        for row in element["scene"]:
            shape, x, y = objects[COLORS[row[0]]]
            assert (["circle", "square"][row[1]], row[2], row[3]) == (
                shape,
                x,
                y,
            )
        seen.add(element["answer"])
    assert seen >= set(ANSWERS[:10])


def test_ten_non_relational_then_ten_relational_questions_per_image():
    elements = _elements(data.sort_of_clevr(3, seed=3))
    for start in range(0, len(elements), 20):
        kinds = [
            e["question_encoding"][6:8].argmax()
            for e in elements[start : start + 20]
        ]
        assert kinds == [0] * 10 + [1] * 10
        images = {e["image"].tobytes() for e in elements[start : start + 20]}
        assert len(images) == 1


def test_question_encoding_matches_question():
    for element in _elements(data.sort_of_clevr(NUM_IMAGES, seed=4)):
        encoding = element["question_encoding"]
        assert set(encoding) == {0.0, 1.0} and encoding.sum() == 3
        color = COLORS[encoding[:6].argmax()]
        subtype = 3 * encoding[6:8].argmax() + encoding[8:].argmax()
        pattern = QUESTIONS[subtype].replace(r"(\w+)", color)
        assert re.fullmatch(pattern, element["question"])


@pytest.mark.parametrize("split", ["all", "train", "test"])
def test_captions_are_true_of_the_image(split):
    dataset = data.shapes_captions(NUM_IMAGES, seed=5, split=split)
    elements = _elements(dataset)
    assert len(elements) == 5 * NUM_IMAGES
    for element in elements:
        assert _holds(_objects(element["image"]), element["caption"])
    relations = {_parse_caption(e["caption"])[1] for e in elements}
    assert relations == {None, "left of", "right of", "above", "below"}


@pytest.mark.parametrize("split", ["all", "train", "test"])
def test_agreement_labels_match_the_image(split):
    dataset = data.shapes_agreement(
        NUM_IMAGES, seed=6, split=split, pairs_per_image=2
    )
    elements = _elements(dataset)
    assert [e["label"] for e in elements] == [1, 0] * 2 * NUM_IMAGES
    for true, false in zip(elements[::2], elements[1::2], strict=True):
        objects = _objects(true["image"])
        assert _holds(objects, true["caption"])
        assert not _holds(objects, false["caption"])
        # The false caption changes one colour, shape or relation.
        words = [
            w
            for w in zip(
                _words(true["caption"]), _words(false["caption"]), strict=True
            )
            if w[0] != w[1]
        ]
        assert len(words) == 1, (true["caption"], false["caption"])


def _words(caption):
    first, relation, second = _parse_caption(caption)
    return [*first, relation, *(second or (None, None))]


def test_withheld_pairs_only_in_test():
    train = data.generate_scenes(NUM_IMAGES, seed=7, split="train")
    test = data.generate_scenes(NUM_IMAGES, seed=7, split="test")
    assert not any(_pairs(s) & WITHHELD for s in train)
    assert all(_pairs(s) & WITHHELD for s in test)
    for split, expected in (("train", False), ("test", True)):
        texts = [
            e["caption"]
            for name in ("shapes_captions", "shapes_agreement")
            for e in _elements(DATASETS[name](NUM_IMAGES, seed=8, split=split))
        ]
        mentioned = set().union(*map(_mentioned, texts))
        assert bool(mentioned & WITHHELD) == expected
        images = _elements(data.sort_of_clevr(NUM_IMAGES, seed=8, split=split))
        shown = {
            (color, o[0])
            for e in images[::20]
            for color, o in _objects(e["image"]).items()
        }
        assert bool(shown & WITHHELD) == expected


def _pairs(scene):
    return {(o.color, o.shape) for o in scene.objects}


@pytest.mark.parametrize(
    "kwargs, name, value",
    [
        ({"num_images": 0}, "num_images", "0"),
        ({"num_images": 2.0}, "num_images", "2.0"),
        ({"num_images": True}, "num_images", "True"),
        ({"seed": -1}, "seed", "-1"),
        ({"seed": "0"}, "seed", "'0'"),
        ({"split": "val"}, "split", "'val'"),
        ({"batch_size": 0}, "batch_size", "0"),
    ],
)
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_bad_arguments_are_named(dataset, kwargs, name, value):
    arguments = {"num_images": 2, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=re.escape(f"{name}={value}")):
        DATASETS[dataset](**arguments)


@pytest.mark.parametrize(
    "dataset, name",
    [("shapes_captions", "captions_per_image")]
    + [("shapes_agreement", "pairs_per_image")],
)
@pytest.mark.parametrize("value", [0, 61])
def test_bad_texts_per_image_are_named(dataset, name, value):
    with pytest.raises(ValueError, match=f"{name}={value}"):
        DATASETS[dataset](2, seed=0, **{name: value})


def test_generate_scenes_checks_count():
    with pytest.raises(ValueError, match="count=-3"):
        data.generate_scenes(-3, seed=0)


def test_a_false_caption_says_why():
    from mmkeras.data._captions import Caption

    red, blue = ("red", "circle"), ("blue", "square")
    scene = data.Scene(
        (
            data.SceneObject("red", "circle", x=20, y=10),
            data.SceneObject("green", "circle", x=10, y=40),
            data.SceneObject("blue", "square", x=60, y=60),
        )
    )
    why = {
        Caption(red): None,
        Caption(("red", "square")): "subject not in the scene",
        Caption(
            red, "left of", ("blue", "circle")
        ): "reference not in the scene",
        Caption(red, "left of", blue): None,
        # Green is left of red, so "right of" holds with another reference.
        Caption(red, "right of", blue): "wrong reference for the relation",
        # Red is the top object: it is below nothing.
        Caption(red, "below", blue): "no object stands in that relation",
    }
    for caption, reason in why.items():
        assert caption.falsehood(scene) == reason, caption.text
        assert caption.is_true(scene) == (reason is None), caption.text
