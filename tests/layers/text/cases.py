"""Examples for the public layers in mmkeras.layers.text."""

import numpy as np

_IDS = np.array([[5, 9, 2, 7, 1], [3, 8, 4, 0, 0]], "int32")

TEXT_CASES = {
    "TokenAndPositionEmbedding": dict(
        init_kwargs=dict(
            vocabulary_size=10, sequence_length=8, embedding_dim=6
        ),
        args=(_IDS,),
        expected_output_shape=(2, 5, 6),
        expected_num_trainable_weights=2,
    ),
}
