"""Examples for the public layers in mmkeras.layers.vision."""

import numpy as np

_IMAGES = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")

VISION_CASES = {
    "ImageConverter": dict(
        init_kwargs=dict(image_size=(8, 8), scale=2.0, offset=-1.0),
        args=(_IMAGES,),
        expected_output_shape=(2, 8, 8, 3),
        expected_num_trainable_weights=0,
        run_training_step=False,
        # Preprocessing stays float32 under any policy; models cast.
        run_mixed_precision=False,
    ),
    "PatchEmbedding": dict(
        init_kwargs=dict(patch_size=4, hidden_dim=8, use_class_token=True),
        args=(_IMAGES,),
        expected_output_shape=(2, 17, 8),
        expected_num_trainable_weights=4,
    ),
    "ConvStem": dict(
        init_kwargs=dict(filters=(4, 8), hidden_dim=12),
        args=(_IMAGES,),
        expected_output_shape=(2, 16, 12),
        # Two conv kernels, two (gamma, beta), projection kernel and bias,
        # position embedding.
        expected_num_trainable_weights=9,
    ),
}
