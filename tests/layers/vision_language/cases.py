"""Examples for the public layers in mmkeras.layers.vision_language."""

import numpy as np

_rng = np.random.default_rng(0)
_TEXT = _rng.standard_normal((2, 5, 16)).astype("float32")
_IMAGE_TOKENS = _rng.standard_normal((2, 9, 24)).astype("float32")
_LATENTS = _rng.standard_normal((2, 3, 24)).astype("float32")

VISION_LANGUAGE_CASES = {
    "PerceiverResampler": dict(
        init_kwargs=dict(
            num_latents=3, num_layers=1, num_heads=2, hidden_dim=8, dropout=0.1
        ),
        args=(_IMAGE_TOKENS,),
        kwargs=dict(padding_mask=np.arange(9)[None] < np.array([[9], [4]])),
        expected_output_shape=(2, 3, 8),
        # Latents, input projection, 3 layer norms (gamma, beta), query,
        # key, value and output kernels, MLP kernels, final norm.
        expected_num_trainable_weights=16,
    ),
    "GatedCrossAttentionBlock": dict(
        init_kwargs=dict(
            num_heads=4, intermediate_dim=24, num_key_value_heads=2, dropout=0.1
        ),
        args=(_TEXT, _LATENTS),
        kwargs=dict(attends_image=np.arange(5)[None] >= np.array([[1], [3]])),
        expected_output_shape=(2, 5, 16),
        # Two gates, four attention kernels, two RMSNorm scales, three
        # SwiGLU kernels.
        expected_num_trainable_weights=11,
    ),
    "ImageTokenProjector": dict(
        init_kwargs=dict(hidden_dim=16, intermediate_dim=12),
        args=(_IMAGE_TOKENS,),
        expected_output_shape=(2, 9, 16),
        expected_num_trainable_weights=4,
    ),
}
