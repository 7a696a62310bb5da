import keras
from keras import ops

from mmkeras import _checks


@keras.saving.register_keras_serializable(package="mmkeras")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding plus a learned position embedding.

    Takes integer token ids `(batch, length)` with `length <=
    sequence_length` and returns `(batch, length, embedding_dim)`. With
    `mask_zero=True`, id 0 is padding: the output carries the mask
    `ids != 0` for downstream layers.

    For step-by-step decoding with a cache, pass `start_index=t` (an int or
    a scalar tensor) to embed tokens at positions `t, t + 1, ...` instead of
    `0, 1, ...`; a single token at step `t` then gets the same embedding as
    position `t` of the full sequence.

    Args:
        vocabulary_size: number of token ids, including padding id 0.
        sequence_length: maximum sequence length; the number of learned
            positions.
        embedding_dim: size of the output embeddings.
        mask_zero: treat id 0 as padding and output a mask.
        embeddings_initializer: initializer for both embedding tables.

    Example:

    >>> layer = mmkeras.layers.TokenAndPositionEmbedding(
    ...     vocabulary_size=100, sequence_length=8, embedding_dim=16
    ... )
    >>> layer(np.array([[5, 6, 7, 0]], "int32")).shape
    TensorShape([1, 4, 16])
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        embedding_dim,
        mask_zero=True,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.positive_int("vocabulary_size", vocabulary_size)
        _checks.positive_int("sequence_length", sequence_length)
        _checks.positive_int("embedding_dim", embedding_dim)
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.embedding_dim = embedding_dim
        self.mask_zero = mask_zero
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer
        )

    def build(self, inputs_shape):
        self._check_ids(inputs_shape)
        self.token_embedding = keras.layers.Embedding(
            self.vocabulary_size,
            self.embedding_dim,
            embeddings_initializer=self.embeddings_initializer,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.token_embedding.build(inputs_shape)
        self.position_embedding = self.add_weight(
            shape=(self.sequence_length, self.embedding_dim),
            initializer=self.embeddings_initializer,
            name="position_embedding",
        )

    def call(self, inputs, start_index=0):
        self._check_ids(inputs.shape, start_index)
        tokens = self.token_embedding(inputs)
        length = ops.shape(inputs)[1]
        if not isinstance(start_index, int):
            start_index = ops.cast(start_index, "int32")
        positions = ops.slice(
            self.position_embedding,
            (start_index, 0),
            (length, self.embedding_dim),
        )
        return tokens + ops.cast(positions, self.compute_dtype)[None]

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape) + (self.embedding_dim,)

    def _check_ids(self, ids_shape, start_index=0):
        _checks.rank("inputs", ids_shape, 2)
        # A tensor start_index is only known at run time, where the slice
        # fails (or, under XLA, clamps): keeping it in range is the caller's.
        if not isinstance(start_index, int):
            return
        if start_index < 0:
            raise ValueError(
                "start_index must be non-negative. "
                f"Received: start_index={start_index}"
            )
        length = ids_shape[1]
        if length is not None and start_index + length > self.sequence_length:
            raise ValueError(
                f"Positions up to {start_index + length} do not fit in "
                f"sequence_length={self.sequence_length}. Received: inputs "
                f"of shape {tuple(ids_shape)}, start_index={start_index}"
            )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "embedding_dim": self.embedding_dim,
                "mask_zero": self.mask_zero,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
            }
        )
        return config
