"""The training splits that configs name (`mmkeras.data.DATASETS`): each
returns `(train, validation)` raw batched datasets of dicts, seeded, with
the validation examples drawn from another seed so they are new ones.
The model's preprocessor maps them in `fit` and `evaluate`."""

import tensorflow as tf

from mmkeras.data import shapes
from mmkeras.data.registry import pick
from mmkeras.data.registry import register_dataset


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
