"""The training splits that configs name (`mmkeras.data.DATASETS`): each
returns `(train, validation)` raw batched datasets of dicts, seeded, with
the validation examples drawn from another seed so they are new ones.
The model's preprocessor maps them in `fit` and `evaluate`."""

import keras
import tensorflow as tf

from mmkeras.data import shapes
from mmkeras.data._scenes import COLORS
from mmkeras.data.easy_vqa import easy_vqa
from mmkeras.data.registry import pick
from mmkeras.data.registry import register_dataset

# Caption examples hold their image (16 kB): a bigger shuffle buffer costs
# memory.
CAPTION_SHUFFLE_BUFFER = 5_000


def caption_test_split(num_images, seed=0, captions=5):
    """The test captions of a `caption_splits` run of `seed` (scenes of
    `seed + 1`), in image order, `captions` per image, unbatched."""
    return shapes.shapes_captions(
        num_images, seed=seed + 1, captions_per_image=captions
    )


@register_dataset("shapes_captions")
def caption_splits(
    train_images=4000,
    test_images=200,
    batch_size=64,
    captions=5,
    seed=0,
    transform=None,
    split=None,
):
    """Raw batched caption examples (`"image"`, `"caption"`, `"scene"`):
    `captions` true captions per scene, `train_images` training scenes of
    `seed` (shuffled) and `test_images` scenes of `seed + 1`. `transform`,
    if given, maps every example dict before batching, e.g. to feed the
    model something other than pixels."""

    def transformed(dataset):
        return dataset if transform is None else dataset.map(transform)

    def train():
        examples = shapes.shapes_captions(
            train_images, seed=seed, captions_per_image=captions
        )
        # Tokenizing took 30% of a training step in line with it
        # (benchmarks/input_pipeline.py): `fit` maps the preprocessor in
        # parallel and ahead, so it hides.
        return (
            transformed(examples)
            .shuffle(CAPTION_SHUFFLE_BUFFER, seed=seed)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )

    def validation():
        test = transformed(caption_test_split(test_images, seed, captions))
        return test.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    return pick(split, train, validation)


def caption_pairs(num_images, seed, split="all", batch_size=64):
    """One true caption per scene (`"image"`, `"scene"`, `"caption"`),
    unshuffled and batched: the pairs a dual encoder trains and is
    evaluated on (caption j belongs to image j)."""
    dataset = shapes.shapes_captions(
        num_images, seed=seed, split=split, captions_per_image=1
    )
    return dataset.batch(batch_size)


@register_dataset("shapes_caption_pairs")
def caption_pair_splits(
    num_train=4000, num_validation=500, batch_size=64, seed=0, split=None
):
    """`caption_pairs` of `num_train` scenes (seed `seed`), shuffled in
    whole batches, and of `num_validation` scenes (seed `seed + 1`)."""

    def train():
        pairs = caption_pairs(num_train, seed, batch_size=batch_size)
        return (
            pairs.unbatch()
            .cache()
            .shuffle(num_train, seed=seed)
            .batch(batch_size, drop_remainder=True)
            # `unbatch` loses the length, which `mmkeras train` needs.
            .apply(
                tf.data.experimental.assert_cardinality(
                    num_train // batch_size
                )
            )
            .prefetch(tf.data.AUTOTUNE)
        )

    def validation():
        pairs = caption_pairs(num_validation, seed + 1, batch_size=batch_size)
        return pairs.cache()

    return pick(split, train, validation)


@register_dataset("easy_vqa")
def easy_vqa_splits(batch_size=64, seed=0, split=None):
    """easy-VQA's train questions (38,575, shuffled anew each epoch from
    `seed`) and its test questions (9,673) as the validation split."""
    return pick(
        split,
        lambda: easy_vqa(
            "train", batch_size=batch_size, shuffle=True, seed=seed
        ),
        lambda: easy_vqa("test", batch_size=256),
    )


# Question types of Sort-of-CLEVR by name: (kind, subtype), kind 0 the
# non-relational questions and 1 the relational ones (`_questions`).
SORT_OF_CLEVR_QUESTION_TYPES = {
    "non_relational": (0, None),
    "relational": (1, None),
    "shape": (0, 0),
    "left_or_right": (0, 1),
    "top_or_bottom": (0, 2),
    "closest": (1, 0),
    "furthest": (1, 1),
    "count": (1, 2),
}
# Examples hold their image (16 kB): a full-epoch buffer would take GBs.
SORT_OF_CLEVR_SHUFFLE_BUFFER = 10_000


@register_dataset("sort_of_clevr")
def sort_of_clevr_splits(
    train_images=9800,
    test_images=200,
    batch_size=64,
    seed=0,
    question_type=None,
    split=None,
):
    """Sort-of-CLEVR, the paper's 9,800 / 200 image split as two seeds of
    the generator (`seed`, `seed + 1`), 20 questions per image; the test
    questions only of `question_type` (a key of
    `SORT_OF_CLEVR_QUESTION_TYPES`) if given."""
    keep = None if question_type is None else _question_filter(question_type)

    def train():
        return (
            shapes.sort_of_clevr(train_images, seed=seed)
            .shuffle(SORT_OF_CLEVR_SHUFFLE_BUFFER, seed=seed)
            .batch(batch_size)
        )

    def validation():
        test = shapes.sort_of_clevr(test_images, seed=seed + 1)
        if keep is not None:
            test = test.filter(keep)
        return test.batch(batch_size)

    return pick(split, train, validation)


def _question_filter(question_type):
    if question_type not in SORT_OF_CLEVR_QUESTION_TYPES:
        raise ValueError(
            "question_type must be None or one of "
            f"{', '.join(SORT_OF_CLEVR_QUESTION_TYPES)}. Received: "
            f"question_type={question_type!r}"
        )
    kind, subtype = SORT_OF_CLEVR_QUESTION_TYPES[question_type]
    # The encoding: colour one-hot, kind one-hot, subtype one-hot.
    columns = [len(COLORS) + kind]
    if subtype is not None:
        columns.append(len(COLORS) + 2 + subtype)

    def keep(example):
        chosen = keras.ops.take(example["question_encoding"], columns)
        return keras.ops.all(chosen > 0.5)

    return keep
