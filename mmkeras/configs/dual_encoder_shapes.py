"""CLIP-style `DualEncoder` on generated ShapeWorld-style captions.

One true caption per 75x75 scene ("a red circle", "there is a blue square
above a gray circle", ...). Captions are ambiguous (a caption is true of
many scenes), so held-out recall@1 stays far below 1 even for a perfect
model; `benchmarks/dual_encoder.py` prints that oracle bound beside the
trained model.
"""

import keras
import numpy as np
import tensorflow as tf

import mmkeras
from mmkeras.data import _captions
from mmkeras.data import _scenes
from mmkeras.data import shapes
from mmkeras.models.dual_encoder import DualEncoder
from mmkeras.models.dual_encoder import DualEncoderPreprocessor

SEQUENCE_LENGTH = 16
# Closed vocabulary: every word the caption generator can produce, so no
# caption maps to [UNK] and no vocabulary has to be learned.
WORDS = sorted(
    {"a", "an", "there", "is", *shapes.COLORS, *shapes.SHAPES}
    | {word for relation in shapes.RELATIONS for word in relation.split()}
)
VOCABULARY = ["[PAD]", "[UNK]", *WORDS]
_DIRECTIONS = ("image_to_text", "text_to_image")


def tokenizer():
    """The WordPiece tokenizer over `VOCABULARY`, padding to 16 tokens."""
    return mmkeras.text.WordPieceTokenizer(
        VOCABULARY, sequence_length=SEQUENCE_LENGTH
    )


def preprocessor():
    """The model's `DualEncoderPreprocessor`: 75x75 scenes in [0, 1] and
    captions through `tokenizer()`."""
    size = (_scenes.IMAGE_SIZE, _scenes.IMAGE_SIZE)
    return DualEncoderPreprocessor(
        mmkeras.layers.ImageConverter(image_size=size), tokenizer()
    )


def caption_pairs(num_images, seed, split="all", batch_size=64):
    """Raw pairs of one caption per scene (`"image"`, `"caption"`),
    unshuffled and batched, as the model's preprocessor takes them in
    `fit` and `evaluate_retrieval`."""
    dataset = shapes.shapes_captions(
        num_images, seed=seed, split=split, captions_per_image=1
    )
    return dataset.batch(batch_size)


def datasets(num_train=4000, num_validation=500, batch_size=64, seed=0):
    """(train, validation): fresh scenes with different seeds."""
    train = caption_pairs(num_train, seed, batch_size=batch_size).unbatch()
    train = (
        train.cache()
        .shuffle(num_train, seed=seed)
        .batch(batch_size, drop_remainder=True)
        # `unbatch` loses the length, which `mmkeras train` needs.
        .apply(tf.data.experimental.assert_cardinality(num_train // batch_size))
        .prefetch(tf.data.AUTOTUNE)
    )
    validation = caption_pairs(num_validation, seed + 1, batch_size=batch_size)
    return train, validation.cache()


def model(projection_dim=64, learning_rate=1e-3):
    """A compiled tiny conv + transformer dual encoder (max-pooled image)."""
    # Objects are a few pixels on a white page: mean pooling, or layer
    # norm in the stem, left every image embedding alike and the loss
    # stuck at log(batch size) from the start.
    image_encoder = mmkeras.encoders.ConvImageEncoder.from_preset(
        "tiny", normalization="batch", pooling="max"
    )
    text_encoder = mmkeras.encoders.TransformerTextEncoder.from_preset(
        "tiny",
        vocabulary_size=len(VOCABULARY),
        sequence_length=SEQUENCE_LENGTH,
        dropout=0.0,
    )
    result = DualEncoder(
        image_encoder, text_encoder, projection_dim, preprocessor=preprocessor()
    )
    optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=0.01)
    optimizer.exclude_from_weight_decay(var_names=["log_logit_scale"])
    result.compile(optimizer=optimizer)
    return result


def caption_truth(num_images, seed, split):
    """`truth[i, j]`: caption j of the set is true of scene i (the diagonal
    always is)."""
    scenes = shapes.generate_scenes(num_images, seed, split)
    captions = [
        element["caption"].numpy().decode()
        for element in shapes.shapes_captions(
            num_images, seed, split=split, captions_per_image=1
        )
    ]
    true = [{c.text for c in _captions.true_captions(s, "all")} for s in scenes]
    return np.array([[c in t for c in captions] for t in true])


def oracle_recall(truth, ks=(1, 5, 10)):
    """Expected recall@K of a model that knows which captions are true."""
    matches = {
        "image_to_text": truth.sum(axis=1),
        "text_to_image": truth.sum(axis=0),
    }
    return {
        f"recall_at_{k}_{d}": float(np.mean(np.minimum(1.0, k / matches[d])))
        for d in _DIRECTIONS
        for k in ks
    } | {f"true_at_1_{d}": 1.0 for d in _DIRECTIONS}


def get_config():
    """Dual encoder on shapes captions.

    Command: `mmkeras train dual_encoder_shapes --out runs/dual_encoder`
    (or `python benchmarks/dual_encoder.py`, which also reports recall@K).
    Data: 4,000 generated scenes with one caption each (seed 0) for
    training, 500 fresh scenes (seed 1) held out.
    Expected (measured once, 20 epochs, load average 14): held-out (500
    pairs) recall@5 0.018 image-to-text and 0.030 text-to-image, against
    chance 0.010 and a caption-truth oracle of 0.061 / 0.075; the model
    overfits (validation loss rises after epoch 5), so this recipe is a
    baseline to improve, not a tuned result.
    Time: about 4 minutes on 2 shared CPU cores (196 s of training).
    """
    return {
        "model": {
            "fn": "mmkeras.configs.dual_encoder_shapes.model",
            "kwargs": {"projection_dim": 64, "learning_rate": 1e-3},
        },
        "data": {
            "fn": "mmkeras.configs.dual_encoder_shapes.datasets",
            "kwargs": {"num_train": 4000, "num_validation": 500},
        },
        "epochs": 20,
        "seed": 0,
    }
