"""Vision-language models: SmolLM2-135M-Instruct seeing through
EfficientNet-Lite0 (both from the zoo, frozen), and the tiny seeded
model of the tests."""

import keras
import numpy as np

from mmkeras.encoders import ConvImageEncoder
from mmkeras.layers import ImageConverter
from mmkeras.models.builders import register_builder
from mmkeras.models.causal_lm import builders as causal_lm_builders
from mmkeras.models.causal_lm.causal_lm import CausalLM
from mmkeras.models.dual_encoder.builders import image_tower
from mmkeras.models.vision_language.vision_language_model import (
    VisionLanguageModel,
)
from mmkeras.models.vision_language.vision_language_preprocessor import (
    VisionLanguagePreprocessor,
)

TINY_IMAGE_SIZE = 32
TINY_LENGTH = 48
# The tiny model's gate values (attention, MLP): a trained model's gates
# are open, and closed ones would hide the image from every check.
TINY_GATES = (0.7, -0.4)
# SmolLM2's placeholder id: a special token of its vocabulary that marks
# a Jupyter cell with no output, never written in a chat.
SMOLLM2_IMAGE_TOKEN = "<empty_output>"
LANGUAGE_MODEL = "smollm2_135m.instruct"
# Text ids per training example (the image's ids come on top).
TEXT_LENGTH = 64


@register_builder("vision_language_smollm2")
def vision_language_smollm2(
    connector="gated_cross_attention",
    image_size=112,
    cross_attention_every=6,
    num_latents=16,
    resampler_layers=2,
    sequence_length=None,
    learning_rate=1e-4,
    load_weights=True,
):
    """SmolLM2-135M-Instruct (`smollm2_135m.instruct`) that sees images
    through EfficientNet-Lite0 (ImageNet weights of
    `efficientnet_lite0.imagenet`, batch norm frozen), both frozen: only
    the connector trains.

    Args:
        connector: `"gated_cross_attention"` (a resampler and a gated
            block before every `cross_attention_every`-th of the 30
            blocks) or `"prefix"` (the encoder's `(image_size / 32) ** 2`
            tokens projected in place of the placeholder).
        image_size: the side of the images the encoder sees.
        cross_attention_every: see `VisionLanguageModel`.
        num_latents: the resampler's latents.
        resampler_layers: the resampler's layers.
        sequence_length: training ids per example; default 64 plus the
            image ids beyond the placeholder's one (79 for the prefix at
            112 px). With SmolLM2's default system prompt, the longest of
            the emoji, shapes and easy-VQA turns measured took 52 ids
            (answers past the length are cut); the gated design trains
            at batch 8 in 3.9 GB at 64.
        learning_rate: of the AdamW (weight decay 0.01) it is compiled
            with; short runs need more than Flamingo's 1e-4, whose gates
            barely open in a few hundred steps.
        load_weights: False builds the architecture with random weights
            (no zoo download; for quick runs of the recipe).

    Example:

    >>> from mmkeras.models.vision_language import builders
    >>> model = builders.vision_language_smollm2(connector="prefix")
    >>> model.chat(photo, "<image>\\nWhat is in this picture?")
    """
    language_model = CausalLM.from_preset(
        LANGUAGE_MODEL, load_weights=load_weights
    )
    encoder = image_tower(image_size, pretrained=load_weights)
    pixels = keras.KerasTensor((1, image_size, image_size, 3))
    tokens = encoder.compute_output_spec(pixels)["tokens"].shape[1]
    text = language_model.preprocessor
    tokenizer = text.tokenizer
    gated = connector == "gated_cross_attention"
    image_ids = 1 if gated else tokens
    if sequence_length is None:
        sequence_length = TEXT_LENGTH + image_ids - 1
    preprocessor = VisionLanguagePreprocessor(
        ImageConverter(image_size=(image_size, image_size)),
        tokenizer,
        image_token_id=tokenizer.token_to_id(SMOLLM2_IMAGE_TOKEN),
        num_image_tokens=image_ids,
        sequence_length=sequence_length,
        chat_template=text.chat_template,
        add_start_token=text.add_start_token,
        start_token_id=text.start_token_id,
        empty_prompt_token_id=text.empty_prompt_token_id,
    )
    model = VisionLanguageModel(
        language_model.backbone,
        encoder,
        preprocessor,
        connector=connector,
        cross_attention_every=cross_attention_every,
        num_latents=num_latents,
        resampler_layers=resampler_layers,
        pad_token_id=language_model.pad_token_id,
    )
    _build(model, image_size, sequence_length)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=0.01)
    )
    return model


def tiny(strings=True, connector="gated_cross_attention", **kwargs):
    """A built, untrained tiny `VisionLanguageModel`: the tiny causal LM
    (two blocks of width 16) and a conv encoder giving 16 tokens of width
    24 for 32x32 images; a gated block before each LM block, or the
    prefix design. The gates are open (`TINY_GATES`), so the image
    changes every output the tests, the tiny entry and its exports
    compare. The placeholder's id is `<|endoftext|>` (0), which a chat
    never writes. `strings=False` leaves out the tokenizer. Seed first
    (`mmkeras.testing.tiny_models.model` does)."""
    language_model = causal_lm_builders.tiny()
    tokenizer = language_model.tokenizer
    encoder = ConvImageEncoder(filters=(8, 16, 16), hidden_dim=24)
    gated = connector == "gated_cross_attention"
    preprocessor = VisionLanguagePreprocessor(
        ImageConverter(image_size=(TINY_IMAGE_SIZE, TINY_IMAGE_SIZE)),
        tokenizer if strings else None,
        image_token_id=tokenizer.token_to_id("<|endoftext|>"),
        num_image_tokens=1 if gated else 16,
        sequence_length=TINY_LENGTH,
        chat_template=causal_lm_builders.CHAT_TEMPLATE,
        end_token_id=tokenizer.token_to_id("<|im_end|>"),
    )
    arguments = dict(
        cross_attention_every=1,
        num_latents=4,
        resampler_layers=1,
        intermediate_dim=24,
    )
    model = VisionLanguageModel(
        language_model.backbone,
        encoder,
        preprocessor,
        connector=connector,
        **{**arguments, **kwargs},
    )
    _build(model, TINY_IMAGE_SIZE, TINY_LENGTH)
    if gated:
        for block in model.gated_blocks:
            block.attention_gate.assign(TINY_GATES[0])
            block.mlp_gate.assign(TINY_GATES[1])
    return model


def _build(model, image_size, length):
    ids = np.ones((2, length), "int32")
    image = np.zeros((2, image_size, image_size, 3), "float32")
    model({"image": image, "token_ids": ids, "padding_mask": ids > 0})
