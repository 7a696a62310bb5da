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
# A fusion head's four inputs: 3x3 image tokens, the padded text tokens,
# their mask and the pooled text.
IMAGE_TOKENS = _floats(3, 9, 8)
HEAD_ARGS = (IMAGE_TOKENS, TEXT_TOKENS, TEXT_MASK, TEXT)

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
    "CoAttentionFusionHead": dict(
        init_kwargs=dict(hidden_dim=16, num_heads=2, dropout=0.1),
        args=HEAD_ARGS,
        expected_output_shape=(3, 32),
        # Two projections (4) and the co-attention layer (52).
        expected_num_trainable_weights=56,
    ),
    "ConcatFusionHead": dict(
        init_kwargs=dict(),
        args=HEAD_ARGS,
        expected_output_shape=(3, 9 * 8 + 16),
        expected_num_trainable_weights=0,
        run_training_step=False,  # nothing to train
    ),
    "BilinearFusionHead": dict(
        init_kwargs=dict(hidden_dim=16, num_heads=2, dropout=0.1),
        args=HEAD_ARGS,
        expected_output_shape=(3, 16),
        # The attention (8) and the bilinear pooling (4).
        expected_num_trainable_weights=12,
    ),
    "AttentionFusionHead": dict(
        init_kwargs=dict(hidden_dim=16, num_heads=2, dropout=0.1),
        args=HEAD_ARGS,
        expected_output_shape=(3, 16),
        expected_num_trainable_weights=14,
    ),
    "RelationFusionHead": dict(
        init_kwargs=dict(hidden_dim=16, num_layers=2),
        args=HEAD_ARGS,
        expected_output_shape=(3, 16),
        # g_theta's split first layer (6) and its second layer (2).
        expected_num_trainable_weights=8,
    ),
    "TransformerFusionHead": dict(
        init_kwargs=dict(hidden_dim=16, num_heads=2, num_layers=1),
        args=HEAD_ARGS,
        expected_output_shape=(3, 16),
        # Two projections (4), the type embeddings, a block (16), the norm.
        expected_num_trainable_weights=23,
    ),
    "FiLMFusionHead": dict(
        init_kwargs=dict(hidden_dim=16, num_layers=2),
        args=HEAD_ARGS,
        expected_output_shape=(3, 16),
        # The condition (2), per block a 1x1 conv, a 3x3 conv and FiLM
        # (6; batch norm has no trainable weights), the output (2).
        expected_num_trainable_weights=16,
    ),
}
