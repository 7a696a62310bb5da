"""Examples for the public layers in mmkeras.layers.fusion."""

import numpy as np

_rng = np.random.default_rng(1)


def _floats(*shape):
    return _rng.standard_normal(shape).astype("float32")


IMAGE = _floats(3, 24)
TEXT = _floats(3, 16)
AUDIO = _floats(3, 8)
TEXT_TOKENS = _floats(3, 5, 16)
# Text lengths 5, 3 and 1: the last two examples are padded.
TEXT_MASK = np.arange(5)[None, :] < np.array([5, 3, 1])[:, None]
FEATURE_MAP = _floats(3, 4, 4, 8)
LOGITS = [_floats(3, 6), _floats(3, 6)]

FUSION_CASES = {
    "ConcatFusion": dict(
        init_kwargs=dict(projection_dim=12, activation="relu", dropout=0.1),
        args=([IMAGE, TEXT, AUDIO],),
        expected_output_shape=(3, 12),
        expected_num_trainable_weights=2,
    ),
    "GatedFusion": dict(
        init_kwargs=dict(units=12, dropout=0.1),
        args=([IMAGE, TEXT, AUDIO],),
        expected_output_shape=(3, 12),
        # Three projections and the gate, each a kernel and a bias.
        expected_num_trainable_weights=8,
    ),
    "BilinearFusion": dict(
        init_kwargs=dict(output_dim=8, factor=3, dropout=0.1),
        args=([IMAGE, TEXT],),
        expected_output_shape=(3, 8),
        expected_num_trainable_weights=4,
    ),
    "AttentionFusion": dict(
        init_kwargs=dict(num_heads=2, hidden_dim=16, dropout=0.1),
        args=([IMAGE, TEXT_TOKENS],),
        kwargs=dict(mask=[None, TEXT_MASK]),
        expected_output_shape=(3, 16),
        # Two projections (4), the embeddings, the query, 8 in the attention.
        expected_num_trainable_weights=14,
    ),
    "FiLM": dict(
        init_kwargs=dict(),
        args=([FEATURE_MAP, TEXT],),
        expected_output_shape=(3, 4, 4, 8),
        expected_num_trainable_weights=2,
    ),
    "LateFusion": dict(
        init_kwargs=dict(mode="learned", combine="probabilities"),
        args=(LOGITS,),
        expected_output_shape=(3, 6),
        expected_num_trainable_weights=1,
    ),
}
