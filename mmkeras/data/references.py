"""Fixed reference inputs that converted zoo entries are checked on: the
golden inputs and the evaluation data of their configs (`mmkeras.data.
DATASETS`). Both splits are the same one batch `{"x": ...}`, the single
input of an encoder."""

import numpy as np
import tensorflow as tf

from mmkeras._packages import local_path
from mmkeras.data.images import preprocess_image
from mmkeras.data.registry import pick
from mmkeras.data.registry import register_dataset
from mmkeras.text import WordPieceTokenizer


@register_dataset("photos")
def photos(names=("chelsea", "coffee"), image_size=224, split=None):
    """scikit-image's sample photos (`skimage.data.<name>`), each resized
    whole to `image_size` (bilinear, antialiased), as float32 in [0, 1]:
    what an image encoder takes."""
    import skimage.data

    images = np.stack(
        [
            preprocess_image(
                getattr(skimage.data, name)(), (image_size, image_size)
            )
            for name in names
        ]
    )
    return _one_batch({"x": images}, split)


@register_dataset("token_ids")
def token_ids(texts, vocabulary, sequence_length=16, split=None):
    """`texts` through a WordPiece tokenizer of `vocabulary` (a file, or a
    `package:<module>/<path>` file of an installed package) that adds
    [CLS] and [SEP], padded to `sequence_length`."""
    tokenizer = WordPieceTokenizer(
        local_path(vocabulary),
        sequence_length=sequence_length,
        add_start_end=True,
    )
    ids = np.asarray(tokenizer(list(texts)))
    return _one_batch({"x": ids}, split)


def _one_batch(arrays, split):
    def batch():
        return tf.data.Dataset.from_tensors(arrays)

    return pick(split, batch, batch)
