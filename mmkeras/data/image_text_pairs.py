"""Image-caption pairs of two corpora mixed in one dataset: the emoji
drawings with their names and the shapes scenes with their captions, the
pairs ViLT pretrains on (`emoji_shapes_pairs`)."""

import tensorflow as tf

from mmkeras import _checks
from mmkeras.data.emoji import emoji
from mmkeras.data.registry import pick
from mmkeras.data.registry import register_dataset
from mmkeras.data.splits import caption_pairs


@register_dataset("emoji_shapes_pairs")
def emoji_shapes_pairs(
    image_size=32,
    batch_size=32,
    num_shapes=4000,
    num_shapes_validation=500,
    held_out_style="twitter",
    styles=None,
    source=None,
    max_drawings=None,
    seed=0,
    split=None,
):
    """Emoji and shapes `{"image", "caption"}` pairs, mixed example by
    example, with one image size for both.

    - "train": the emoji drawings of every style read but
      `held_out_style`, with their canonical captions ("cat face: cat"),
      and `num_shapes` shapes scenes of `seed`, each with one true
      caption; shuffled together anew each epoch from `seed`, in whole
      batches (ITC and ITM contrast within a batch, which then holds both
      corpora).
    - "validation": every drawing of `held_out_style` (an unseen drawing
      style), then `num_shapes_validation` new scenes (seed `seed + 1`),
      in that order, every example.

    Args:
        image_size: the side of the square uint8 images (both corpora
            resized, antialiased).
        batch_size: a positive integer.
        num_shapes: shapes scenes in "train"; 0 for emoji only.
        num_shapes_validation: shapes scenes in "validation"; 0 for none.
        held_out_style: the emoji style of "validation".
        styles: the emoji styles to read (see `mmkeras.data.emoji`).
        source: where the emoji are (see `mmkeras.data.emoji`; None: the
            copy shipped with mmkeras).
        max_drawings: at most this many emoji drawings in each split (the
            first of "train" after its shuffle; of "validation" in order),
            for small runs; None: all.
        seed: the shuffle and the scenes.
        split: None for `(train, validation)`, or "train" or
            "validation" for that one.

    Returns:
        Batched `tf.data.Dataset`s of dicts: "image" (uint8
        `(image_size, image_size, 3)`) and "caption" (string).

    Example:

    >>> train, validation = mmkeras.data.DATASETS.call(
    ...     {"name": "emoji_shapes_pairs", "kwargs": {"num_shapes": 64}})
    >>> next(iter(train))["image"].shape
    TensorShape([32, 32, 32, 3])
    """
    _checks.positive_int("image_size", image_size)
    _checks.positive_int("batch_size", batch_size)
    _checks.integer("seed", seed)
    if max_drawings is not None:
        _checks.positive_int("max_drawings", max_drawings)
    for name, value in (
        ("num_shapes", num_shapes),
        ("num_shapes_validation", num_shapes_validation),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(
                f"{name} must be a non-negative integer (0 for no shapes "
                f"scenes). Received: {name}={value!r}"
            )
    options = {
        "held_out_style": held_out_style,
        "styles": styles,
        "source": source,
        "image_size": image_size,
        "seed": seed,
    }

    def drawings(which):
        """`(pairs, count)` of the emoji split `which`, unbatched."""
        # Batches of one: "train" would drop a remainder of bigger ones.
        examples = emoji(which, **options, split_by="style", batch_size=1)
        if max_drawings is not None:
            examples = examples.take(max_drawings)
        return examples.unbatch().map(_pair), int(examples.cardinality())

    def scenes(count, scene_seed):
        pairs = caption_pairs(count, scene_seed, batch_size=256).unbatch()
        return pairs.map(lambda x: _pair(x, image_size))

    def train():
        examples, count = drawings("train")
        if num_shapes:
            examples = examples.concatenate(scenes(num_shapes, seed))
            count += num_shapes
        return _batched(
            examples.cache().shuffle(
                count, seed=seed, reshuffle_each_iteration=True
            ),
            batch_size,
            count // batch_size,
        )

    def validation():
        examples, _ = drawings("validation")
        if num_shapes_validation:
            examples = examples.concatenate(
                scenes(num_shapes_validation, seed + 1)
            )
        return examples.cache().batch(batch_size).prefetch(tf.data.AUTOTUNE)

    return pick(split, train, validation)


def _pair(example, image_size=None):
    """`{"image", "caption"}` of an example, the image resized to
    `image_size` (None: kept)."""
    image = example["image"]
    if image_size is not None and image.shape[0] != image_size:
        image = tf.image.resize(image, (image_size, image_size), antialias=True)
        image = tf.cast(tf.round(tf.clip_by_value(image, 0, 255)), tf.uint8)
    return {"image": image, "caption": example["caption"]}


def _batched(examples, batch_size, batches):
    if batches == 0:
        raise ValueError(
            f"emoji_shapes_pairs has fewer training pairs than batch_size="
            f"{batch_size}, so it would yield no batch. Pass a smaller "
            "batch_size or more shapes scenes (num_shapes)."
        )
    return (
        examples.batch(batch_size, drop_remainder=True)
        # The concatenation's length is unknown after `unbatch`; `mmkeras
        # train` needs it.
        .apply(tf.data.experimental.assert_cardinality(batches))
        .prefetch(tf.data.AUTOTUNE)
    )
