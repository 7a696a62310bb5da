"""One example per public layer: constructor and call arguments.

`test_public_layers.py` walks `mmkeras.layers` and requires a case here for
every public layer it finds, so a new layer cannot ship untested.
"""

import numpy as np

from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.hub_cases import HUB_CASES
from tests.layers.text.cases import TEXT_CASES
from tests.layers.vision.cases import VISION_CASES
from tests.layers.vision_language.cases import VISION_LANGUAGE_CASES

_rng = np.random.default_rng(0)


def _floats(*shape):
    return _rng.standard_normal(shape).astype("float32")


def _padding_mask(batch, length, real_lengths):
    return np.arange(length)[None, :] < np.array(real_lengths)[:, None]


_TOKENS = _floats(2, 5, 16)
_IMAGE_TOKENS = _floats(2, 9, 24)
_TOKEN_MASK = _padding_mask(2, 5, [5, 3])
_HEADS = _floats(2, 5, 3, 8)
# Left-padded rows: positions count the real tokens.
_POSITIONS = np.array([[0, 1, 2, 3, 4], [0, 0, 0, 1, 2]], "int32")

CASES = {
    **FUSION_CASES,
    **HUB_CASES,
    **VISION_CASES,
    **TEXT_CASES,
    **VISION_LANGUAGE_CASES,
    "MultiHeadAttention": dict(
        init_kwargs=dict(num_heads=2, key_dim=8, dropout=0.1),
        args=(_TOKENS, _IMAGE_TOKENS),
        kwargs=dict(value_mask=_padding_mask(2, 9, [9, 4])),
        expected_output_shape=(2, 5, 16),
        expected_num_trainable_weights=8,
    ),
    "MultiHeadAttention(grouped, rotary)": dict(
        init_kwargs=dict(
            num_heads=4,
            key_dim=4,
            num_key_value_heads=2,
            use_bias=False,
            rope_max_wavelength=10000,
        ),
        args=(_TOKENS, _TOKENS),
        kwargs=dict(
            value_mask=_TOKEN_MASK, use_causal_mask=True, positions=_POSITIONS
        ),
        expected_output_shape=(2, 5, 16),
        expected_num_trainable_weights=4,
    ),
    "RotaryEmbedding": dict(
        init_kwargs=dict(max_wavelength=100, layout="interleaved"),
        args=(_HEADS, _POSITIONS),
        expected_output_shape=(2, 5, 3, 8),
        expected_num_trainable_weights=0,
    ),
    "RMSNormalization": dict(
        init_kwargs=dict(epsilon=1e-5),
        args=(_TOKENS,),
        expected_output_shape=(2, 5, 16),
        expected_num_trainable_weights=1,
    ),
    "FeedForward(SwiGLU)": dict(
        init_kwargs=dict(
            intermediate_dim=24, activation="silu", gated=True, use_bias=False
        ),
        args=(_TOKENS,),
        expected_output_shape=(2, 5, 16),
        expected_num_trainable_weights=3,
    ),
    "DecoderOnlyBlock": dict(
        init_kwargs=dict(
            num_heads=4,
            num_key_value_heads=2,
            intermediate_dim=24,
            rope_layout="interleaved",
            dropout=0.1,
        ),
        args=(_TOKENS,),
        kwargs=dict(padding_mask=_TOKEN_MASK, positions=_POSITIONS),
        expected_output_shape=(2, 5, 16),
        expected_num_trainable_weights=9,
    ),
    "FeedForward": dict(
        init_kwargs=dict(intermediate_dim=32, dropout=0.1),
        args=(_TOKENS,),
        expected_output_shape=(2, 5, 16),
        expected_num_trainable_weights=4,
    ),
    "TransformerEncoderBlock": dict(
        init_kwargs=dict(num_heads=2, intermediate_dim=32, dropout=0.1),
        args=(_TOKENS,),
        kwargs=dict(padding_mask=_TOKEN_MASK),
        expected_output_shape=(2, 5, 16),
        expected_num_trainable_weights=16,
    ),
    "TransformerDecoderBlock": dict(
        init_kwargs=dict(num_heads=2, intermediate_dim=32, dropout=0.1),
        args=(_TOKENS, _IMAGE_TOKENS),
        kwargs=dict(decoder_padding_mask=_TOKEN_MASK),
        expected_output_shape=(2, 5, 16),
        expected_num_trainable_weights=26,
    ),
    "CoAttention": dict(
        init_kwargs=dict(num_heads=2, intermediate_dim=32, self_attention=True),
        args=(_IMAGE_TOKENS, _TOKENS),
        kwargs=dict(y_mask=_TOKEN_MASK),
        expected_output_shape=((2, 9, 24), (2, 5, 16)),
        expected_num_trainable_weights=52,
    ),
}
