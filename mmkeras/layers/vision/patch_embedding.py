import keras
from keras import ops

from mmkeras import _checks


@keras.saving.register_keras_serializable(package="mmkeras")
class PatchEmbedding(keras.layers.Layer):
    """ViT patch embedding: image patches to a sequence of tokens.

    A `Conv2D` with kernel and stride `patch_size` projects each
    non-overlapping patch of a channels-last `(batch, height, width,
    channels)` image to `hidden_dim` features; the grid is flattened row by
    row into `(batch, num_patches, hidden_dim)`. Optionally a learned class
    token is prepended and learned position embeddings are added. `height`
    and `width` must be static and divisible by `patch_size`, because the
    position embeddings have one row per patch.

    Args:
        patch_size: side of the square patches, in pixels.
        hidden_dim: size of each output token.
        use_class_token: prepend a learned class token, giving
            `num_patches + 1` tokens.
        use_position_embedding: add learned position embeddings.
        kernel_initializer: initializer for the patch projection kernel.

    Example:

    >>> layer = mmkeras.layers.PatchEmbedding(patch_size=4, hidden_dim=32)
    >>> layer(np.ones((2, 16, 16, 3), "float32")).shape
    TensorShape([2, 16, 32])
    """

    def __init__(
        self,
        patch_size,
        hidden_dim,
        use_class_token=False,
        use_position_embedding=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.positive_int("patch_size", patch_size)
        _checks.positive_int("hidden_dim", hidden_dim)
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.use_class_token = use_class_token
        self.use_position_embedding = use_position_embedding
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, inputs_shape):
        self.num_patches = self._num_patches(inputs_shape)
        self.projection = keras.layers.Conv2D(
            self.hidden_dim,
            kernel_size=self.patch_size,
            strides=self.patch_size,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="projection",
        )
        self.projection.build(inputs_shape)
        self.class_token = None
        if self.use_class_token:
            # Zero-initialised as in ViT; position embeddings break symmetry.
            self.class_token = self.add_weight(
                shape=(self.hidden_dim,),
                initializer="zeros",
                name="class_token",
            )
        self.position_embedding = None
        if self.use_position_embedding:
            num_tokens = self.num_patches + int(self.use_class_token)
            self.position_embedding = self.add_weight(
                shape=(num_tokens, self.hidden_dim),
                initializer=keras.initializers.RandomNormal(stddev=0.02),
                name="position_embedding",
            )

    def call(self, inputs):
        if self._num_patches(inputs.shape) != self.num_patches:
            raise ValueError(
                f"PatchEmbedding was built for {self.num_patches} patches "
                f"but received images of shape {tuple(inputs.shape)} with "
                f"patch_size={self.patch_size}."
            )
        patches = self.projection(inputs)
        tokens = ops.reshape(patches, (-1, self.num_patches, self.hidden_dim))
        if self.class_token is not None:
            class_token = ops.cast(self.class_token, self.compute_dtype)
            class_tokens = ops.broadcast_to(
                class_token[None, None, :],
                (ops.shape(tokens)[0], 1, self.hidden_dim),
            )
            tokens = ops.concatenate([class_tokens, tokens], axis=1)
        if self.position_embedding is not None:
            position = ops.cast(self.position_embedding, self.compute_dtype)
            tokens = tokens + position[None]
        return tokens

    def compute_output_shape(self, inputs_shape):
        num_tokens = self._num_patches(inputs_shape)
        num_tokens += int(self.use_class_token)
        return (inputs_shape[0], num_tokens, self.hidden_dim)

    def _num_patches(self, images_shape):
        _checks.rank("images", images_shape, 4)
        height, width = images_shape[1], images_shape[2]
        if (
            height is None
            or width is None
            or height % self.patch_size
            or width % self.patch_size
        ):
            raise ValueError(
                "PatchEmbedding needs a static image size divisible by "
                f"patch_size. Received: image size ({height}, {width}), "
                f"patch_size={self.patch_size}"
            )
        return (height // self.patch_size) * (width // self.patch_size)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "patch_size": self.patch_size,
                "hidden_dim": self.hidden_dim,
                "use_class_token": self.use_class_token,
                "use_position_embedding": self.use_position_embedding,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
