"""Vision-language models: the tiny seeded model of the tests."""

import numpy as np

from mmkeras.encoders import ConvImageEncoder
from mmkeras.layers import ImageConverter
from mmkeras.models.causal_lm import builders as causal_lm_builders
from mmkeras.models.vision_language.vision_language_model import (
    VisionLanguageModel,
)
from mmkeras.models.vision_language.vision_language_preprocessor import (
    VisionLanguagePreprocessor,
)

TINY_IMAGE_SIZE = 32
TINY_LENGTH = 48


def tiny(strings=True, connector="gated_cross_attention", **kwargs):
    """A built, untrained tiny `VisionLanguageModel`: the tiny causal LM
    (two blocks of width 16) and a conv encoder giving 16 tokens of width
    24 for 32x32 images; a gated block before each LM block, or the
    prefix design. The placeholder's id is `<|endoftext|>` (0), which a
    chat never writes. `strings=False` leaves out the tokenizer. Seed
    first (`mmkeras.testing.tiny_models.model` does)."""
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
    ids = np.ones((2, TINY_LENGTH), "int32")
    image = np.zeros((2, TINY_IMAGE_SIZE, TINY_IMAGE_SIZE, 3), "float32")
    model({"image": image, "token_ids": ids, "padding_mask": ids > 0})
    return model
