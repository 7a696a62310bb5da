"""Colour match: a fusion task where each modality alone is at chance.

The image shows one shape (a circle or a square of random size and place)
in a colour `c_img`; the text names a colour `c_txt` in one of a few
templates; the label is 1 if `c_img == c_txt`, else 0. Half the labels are
1, and for a non-match `c_txt` is uniform over the other colours, so
`c_img`, `c_txt`, the shape, its place and the template are each
independent of the label: an image-only or text-only model is at 50%, and
only a model that relates the two modalities can beat chance.
"""

import numpy as np
import tensorflow as tf

from mmkeras.data._scenes import COLORS
from mmkeras.data._scenes import RGB
from mmkeras.data.registry import pick
from mmkeras.data.registry import register_dataset

IMAGE_SIZE = 32
TEMPLATES = ("{}", "a {} shape", "the object is {}", "is it {} ?")
# Label 0: the text names another colour than the shape's; 1: the same.
CLASS_NAMES = ("different", "same")
RESERVED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# Every word of every text: a closed vocabulary, so nothing maps to [UNK].
VOCABULARY = list(RESERVED_TOKENS) + sorted(
    set(" ".join(TEMPLATES).replace("{}", " ").split()) | set(COLORS)
)


def color_match(num_examples, seed, batch_size=None):
    """The raw colour-match examples, seeded and deterministic.

    Args:
        num_examples: number of examples, a positive even integer.
        seed: a non-negative integer; other seeds give other examples.
        batch_size: None for single elements, or a positive integer.

    Returns:
        A `tf.data.Dataset` of dicts: "image" uint8 (32, 32, 3), "text"
        (string), "label" (int32, 1 if the colours match), "image_color"
        and "text_color" (int32 indices into `COLORS`).

    Example:

    >>> ds = mmkeras.data.color_match(100, seed=0, batch_size=10)
    >>> ds.element_spec["image"].shape
    TensorShape([None, 32, 32, 3])
    """
    columns = color_match_arrays(num_examples, seed)
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    if batch_size is not None:
        dataset = dataset.batch(batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE)


def color_match_arrays(num_examples, seed):
    """`color_match` as a dict of numpy arrays (same keys and values)."""
    if isinstance(num_examples, bool) or not isinstance(num_examples, int):
        num_examples = -1
    if num_examples <= 0 or num_examples % 2:
        raise ValueError(
            "num_examples must be a positive even integer (half the labels "
            f"are 1). Received: num_examples={num_examples!r}"
        )
    rng = np.random.default_rng([seed, 7])
    count, num_colors = num_examples, len(COLORS)
    labels = rng.permutation(np.arange(count) % 2).astype(np.int32)
    image_colors = rng.integers(0, num_colors, count)
    # A non-match shifts by 1..num_colors-1: uniform over the other colours.
    shifts = rng.integers(1, num_colors, count)
    text_colors = np.where(labels == 1, image_colors, image_colors + shifts)
    text_colors %= num_colors
    templates = rng.integers(0, len(TEMPLATES), count)
    texts = [
        TEMPLATES[t].format(COLORS[c])
        for t, c in zip(templates, text_colors, strict=True)
    ]
    images = np.stack([_draw(rng, COLORS[c]) for c in image_colors])
    return {
        "image": images,
        "text": np.array(texts),
        "label": labels,
        "image_color": image_colors.astype(np.int32),
        "text_color": text_colors.astype(np.int32),
    }


def _draw(rng, color):
    """One circle or square of `color` on white, no anti-aliasing."""
    size = int(rng.integers(7, 15))
    y, x = rng.integers(0, IMAGE_SIZE - size + 1, 2)
    rows, cols = np.mgrid[:size, :size] - (size - 1) / 2
    circle = rows**2 + cols**2 <= (size / 2) ** 2
    mask = circle if rng.integers(2) else np.ones_like(circle)
    image = np.full((IMAGE_SIZE, IMAGE_SIZE, 3), 255, np.uint8)
    image[y : y + size, x : x + size][mask] = RGB[color]
    return image


@register_dataset("color_match")
def color_match_splits(
    num_train=4096, num_validation=1024, batch_size=64, seed=0, split=None
):
    """Raw `(train, validation)` batches of `color_match`: shuffled
    training examples of `seed` (whole batches only) and validation
    examples of `seed + 1`, so new ones; `split` picks one."""

    def train():
        return (
            color_match(num_train, seed)
            .shuffle(num_train, seed=seed)
            .batch(batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE)
        )

    def validation():
        return color_match(num_validation, seed + 1, batch_size)

    return pick(split, train, validation)
