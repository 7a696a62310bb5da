"""Builders of ViLT models: the tiny test models and the recipes'."""

import functools

import keras

from mmkeras.data import emoji_caption
from mmkeras.data import emoji_records
from mmkeras.data import shapes
from mmkeras.data.vocabularies import easy_vqa_vocabulary
from mmkeras.layers import ImageConverter
from mmkeras.models import _tiny
from mmkeras.models.builders import register_builder
from mmkeras.models.vilt.vilt_backbone import ViLTBackbone
from mmkeras.models.vilt.vilt_preprocessor import ViLTPreprocessor
from mmkeras.models.vilt.vilt_pretrainer import ViLTPretrainer
from mmkeras.text import WordPieceTokenizer
from mmkeras.text import build_vocabulary


def tiny_backbone(vocabulary_size, **kwargs):
    """A one-block, 16-wide backbone of 12-pixel patches."""
    options = {
        "sequence_length": _tiny.TEXT_LENGTH,
        "patch_size": 12,
        "hidden_dim": 16,
        "num_layers": 1,
        "num_heads": 2,
        "intermediate_dim": 32,
        **kwargs,
    }
    return ViLTBackbone(vocabulary_size, **options)


def tiny(strings=True, **kwargs):
    """A built, untrained tiny ViLT pretrainer (`test_vilt.tiny`);
    `strings=False` leaves out the preprocessor. Seed first
    (`mmkeras.testing.tiny_models.model` does)."""
    words = _tiny.tokenizer()
    model = ViLTPretrainer(
        tiny_backbone(words.vocabulary_size(), **kwargs),
        projection_dim=8,
        preprocessor=_tiny.preprocessor(ViLTPreprocessor, strings),
    )
    ids = _tiny.token_ids()
    model({"image": _tiny.images(), "token_ids": ids, "masked_ids": ids})
    return model


# The recipes' model: 32x32 images through a 3-block conv stem (16
# tokens), 16 text positions, 4 blocks of width 128.
IMAGE_SIZE = 32
SEQUENCE_LENGTH = 16


@functools.cache
def vocabulary(emoji=False):
    """WordPiece over shapes captions and easy-VQA's training questions
    (and with `emoji`, every emoji's caption): the words of pretraining
    and of fine-tuning share one vocabulary."""
    captions = shapes.shapes_captions(400, seed=0, captions_per_image=5)
    texts = [
        c.decode()
        for c in captions.map(lambda e: e["caption"]).as_numpy_iterator()
    ]
    texts += easy_vqa_vocabulary()
    size = 400
    if emoji:
        texts += sorted({emoji_caption(r) for r in emoji_records()})
        size = 3000
    return tuple(build_vocabulary(texts, size))


def tokenizer(emoji=False, words=None):
    """The recipes' tokenizer: `vocabulary(emoji)` (or the tokens
    `words`), 16 positions."""
    words = vocabulary(emoji) if words is None else words
    return WordPieceTokenizer(list(words), sequence_length=SEQUENCE_LENGTH)


def small_backbone(vocabulary_size, **kwargs):
    """The recipes' backbone (`kwargs` replace its settings)."""
    options = {
        "sequence_length": SEQUENCE_LENGTH,
        "patch_size": 8,
        "hidden_dim": 128,
        "num_layers": 4,
        "num_heads": 4,
        "intermediate_dim": 256,
        # Early convolutions: with ViLT's linear patches the 32x32 scenes'
        # small shapes barely moved the image embeddings.
        "stem_filters": [32, 64, 128],
        **kwargs,
    }
    return ViLTBackbone(vocabulary_size, **options)


def converter():
    """32x32 images in [0, 1]."""
    return ImageConverter(image_size=(IMAGE_SIZE, IMAGE_SIZE))


@register_builder("vilt_shapes_pretrainer")
def shapes_pretrainer(
    learning_rate=3e-4,
    decay_steps=None,
    emoji=False,
    itm_weight=1.0,
    hard_negatives_after=0,
    words=None,
    **backbone,
):
    """The small ViLT pretrainer on shapes captions (and, with `emoji`,
    emoji captions: `tokenizer(emoji)`; `words`, a list of tokens, in
    place of that vocabulary: building it takes seconds, too long for
    tests); the ITM loss weighs `itm_weight` (MLM and ITC 1), its
    negatives are uniform for the first `hard_negatives_after` steps."""
    words = tokenizer(emoji, words)
    model = ViLTPretrainer(
        small_backbone(words.vocabulary_size(), **backbone),
        projection_dim=64,
        hard_negatives_after=hard_negatives_after,
        preprocessor=ViLTPreprocessor(converter(), words),
    )
    model.compile(
        optimizer=adamw(learning_rate, decay_steps),
        loss_weights={"itm": itm_weight, "mlm": 1.0, "itc": 1.0},
    )
    return model


def adamw(learning_rate, decay_steps=None):
    """AdamW (no decay on the temperature), with a warmed-up cosine
    schedule over `decay_steps`."""
    if decay_steps:
        # A tenth of the steps warm up: 1e-3 at once collapsed the [CLS]
        # output (ITC stuck at log(batch), ITM at chance).
        warmup = max(decay_steps // 10, 1)
        learning_rate = keras.optimizers.schedules.CosineDecay(
            0.0,
            decay_steps - warmup,
            warmup_target=learning_rate,
            warmup_steps=warmup,
        )
    optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=0.01)
    optimizer.exclude_from_weight_decay(var_names=["log_logit_scale"])
    return optimizer
