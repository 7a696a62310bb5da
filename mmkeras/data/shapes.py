"""Generated 2-D shapes datasets as `tf.data`: Sort-of-CLEVR VQA,
ShapeWorld-style captions and image-caption agreement.

All three draw scenes from `generate_scenes` (six objects, one per colour,
each a circle or a square) and are deterministic: the same arguments give
byte-identical images and texts. Every element carries:

- "image": uint8 (75, 75, 3), white background, no anti-aliasing; divide
  by 255 for floats in [0, 1].
- "scene": int32 (6, 5), one row per object in `COLORS` order with the
  columns `SCENE_FIELDS` (the paper's "state description"), so answers and
  captions can be checked.

`split="train"` never shows a `WITHHELD` colour-shape pair, in scenes or in
texts; every `split="test"` scene holds one; `split="all"` is unconstrained.
Elements come in generation order, unshuffled; pass `batch_size` to batch.
"""

import numpy as np
import tensorflow as tf

from mmkeras import _checks
from mmkeras.data import _captions
from mmkeras.data import _questions
from mmkeras.data import _scenes
from mmkeras.data._captions import RELATIONS
from mmkeras.data._questions import ANSWERS
from mmkeras.data._scenes import COLORS
from mmkeras.data._scenes import IMAGE_SIZE
from mmkeras.data._scenes import RGB
from mmkeras.data._scenes import SHAPES
from mmkeras.data._scenes import WITHHELD
from mmkeras.data._scenes import Scene
from mmkeras.data._scenes import SceneObject
from mmkeras.data._scenes import generate_scenes
from mmkeras.data._scenes import render_scene

# The vocabulary and scene model, public here: `mmkeras.data.shapes.ANSWERS`.
__all__ = [
    "ANSWERS",
    "COLORS",
    "IMAGE_SIZE",
    "RELATIONS",
    "RGB",
    "SCENE_FIELDS",
    "SHAPES",
    "WITHHELD",
    "Scene",
    "SceneObject",
    "generate_scenes",
    "render_scene",
    "scene_array",
    "shapes_agreement",
    "shapes_captions",
    "sort_of_clevr",
]

SCENE_FIELDS = ("color", "shape", "x", "y", "size")
# Every scene has at least 60 true relational captions (each of the 30
# ordered pairs of objects differs in x or y; two templates), and each has
# a false variant (the opposite relation).
MAX_CAPTIONS_PER_IMAGE = 60


def sort_of_clevr(num_images, seed, split="all", batch_size=None):
    """Sort-of-CLEVR (Santoro et al. 2017): 20 questions per image.

    Per image, 10 non-relational questions (the shape of the X object; is
    it left or right, top or bottom of the image centre) and then 10
    relational ones (the shape of the object closest to / furthest from
    the X object; how many objects share its shape, itself included).

    Args:
        num_images: number of scenes, a positive integer.
        seed: a non-negative integer.
        split: "all", "train" or "test" (see the module docstring).
        batch_size: None for single elements, or a positive integer.

    Returns:
        A `tf.data.Dataset` of dicts, one per question: "image", "scene",
        "question" (string), "question_encoding" (float32 (11,): colour
        one-hot (6), non-relational/relational (2), subtype (3), as in the
        paper), "answer" (string, one of `ANSWERS`) and "answer_id"
        (int32, its index in `ANSWERS`).

    Example:
    >>> ds = mmkeras.data.sort_of_clevr(100, seed=0, batch_size=32)
    >>> ds.element_spec["question_encoding"].shape
    TensorShape([None, 11])
    """
    _checks.optional_positive_int("batch_size", batch_size)
    scenes = _generate(num_images, seed, split)
    rng = _text_rng(seed, split)
    asked = [_questions.questions(scene, rng) for scene in scenes]
    answers = [[q.answer for q in qs] for qs in asked]
    columns = _scene_columns(scenes) | {
        "question": np.array([[q.text for q in qs] for qs in asked]),
        "question_encoding": np.array(
            [[q.encoding for q in qs] for qs in asked]
        ),
        "answer": np.array(answers),
        "answer_id": np.vectorize(_questions.ANSWERS.index)(answers).astype(
            np.int32
        ),
    }
    return _dataset(columns, batch_size)


def shapes_captions(
    num_images, seed, split="all", captions_per_image=5, batch_size=None
):
    """ShapeWorld-style captions (Kuhnle & Copestake 2017), all true.

    Captions are drawn without repetition from every true caption of the
    scene: "a red circle", "there is a red circle", "a red circle is left
    of a blue square", "there is a red circle above a blue square", with
    the relations "left of", "right of", "above" and "below" comparing
    object centres.

    Args:
        num_images: number of scenes, a positive integer.
        seed: a non-negative integer.
        split: "all", "train" or "test" (see the module docstring).
        captions_per_image: 1 to `MAX_CAPTIONS_PER_IMAGE`.
        batch_size: None for single elements, or a positive integer.

    Returns:
        A `tf.data.Dataset` of dicts, one per caption: "image", "scene" and
        "caption" (string).

    Example:
    >>> ds = mmkeras.data.shapes_captions(100, seed=0, split="train")
    >>> sorted(ds.element_spec)
    ['caption', 'image', 'scene']
    """
    _check_per_image("captions_per_image", captions_per_image)
    _checks.optional_positive_int("batch_size", batch_size)
    scenes = _generate(num_images, seed, split)
    rng = _text_rng(seed, split)
    captions = []
    for scene in scenes:
        true = _captions.true_captions(scene, split)
        chosen = rng.choice(len(true), captions_per_image, replace=False)
        captions.append([true[i].text for i in chosen])
    columns = _scene_columns(scenes) | {"caption": np.array(captions)}
    return _dataset(columns, batch_size)


def shapes_agreement(
    num_images, seed, split="all", pairs_per_image=1, batch_size=None
):
    """Image-caption agreement: is the caption true of the image?

    Per image, `pairs_per_image` distinct true captions (as in
    `shapes_captions`), each followed by a false one made from it by
    changing one colour, shape or relation, checked false of the scene.

    Args:
        num_images: number of scenes, a positive integer.
        seed: a non-negative integer.
        split: "all", "train" or "test" (see the module docstring).
        pairs_per_image: 1 to `MAX_CAPTIONS_PER_IMAGE`.
        batch_size: None for single elements, or a positive integer.

    Returns:
        A `tf.data.Dataset` of dicts, one per caption: "image", "scene",
        "caption" (string) and "label" (int32, 1 true, 0 false), true and
        false alternating.

    Example:
    >>> ds = mmkeras.data.shapes_agreement(100, seed=0, pairs_per_image=2)
    >>> ds.element_spec["label"].dtype
    tf.int32
    """
    _check_per_image("pairs_per_image", pairs_per_image)
    _checks.optional_positive_int("batch_size", batch_size)
    scenes = _generate(num_images, seed, split)
    rng = _text_rng(seed, split)
    captions = []
    for scene in scenes:
        variants = [
            (c, _captions.false_variants(c, scene, split))
            for c in _captions.true_captions(scene, split)
        ]
        variants = [(c, falses) for c, falses in variants if falses]
        texts = []
        for i in rng.choice(len(variants), pairs_per_image, replace=False):
            true, falses = variants[i]
            texts += [true.text, falses[rng.integers(len(falses))].text]
        captions.append(texts)
    columns = _scene_columns(scenes) | {
        "caption": np.array(captions),
        "label": np.tile(
            np.array([1, 0], np.int32), (num_images, pairs_per_image)
        ),
    }
    return _dataset(columns, batch_size)


def scene_array(scene):
    """The "scene" tensor of `scene`: int32 (6, 5), see `SCENE_FIELDS`.

    Example:
    >>> scene = mmkeras.data.generate_scenes(1, seed=0)[0]
    >>> mmkeras.data.scene_array(scene).shape
    (6, 5)
    """
    return np.array(
        [
            [
                _scenes.COLORS.index(o.color),
                _scenes.SHAPES.index(o.shape),
                o.x,
                o.y,
                o.size,
            ]
            for o in scene.objects
        ],
        np.int32,
    )


def _generate(num_images, seed, split):
    # Checked here so the error names this function's argument, not `count`.
    _checks.positive_int("num_images", num_images)
    return _scenes.generate_scenes(num_images, seed, split)


def _check_per_image(name, value):
    _checks.positive_int(name, value)
    if value > MAX_CAPTIONS_PER_IMAGE:
        raise ValueError(
            f"{name} must be at most {MAX_CAPTIONS_PER_IMAGE}. Received: "
            f"{name}={value}"
        )


def _text_rng(seed, split):
    # A stream apart from the scenes', so texts never shift the layouts.
    return np.random.default_rng([seed, _scenes.SPLITS.index(split), 1])


def _scene_columns(scenes):
    return {
        "image": np.stack([_scenes.render_scene(s) for s in scenes]),
        "scene": np.stack([scene_array(s) for s in scenes]),
    }


def _dataset(columns, batch_size):
    """One element per text: each image's texts share its image and scene."""
    shared = ("image", "scene")
    per_image = next(v.shape[1] for k, v in columns.items() if k not in shared)

    def spread(element):
        return {
            key: tf.repeat(value[None], per_image, axis=0)
            if key in shared
            else value
            for key, value in element.items()
        }

    dataset = tf.data.Dataset.from_tensor_slices(columns).map(spread).unbatch()
    if batch_size is not None:
        dataset = dataset.batch(batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE)
