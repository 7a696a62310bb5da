import keras
from keras import ops

from mmkeras import _checks

_NORMALIZATIONS = ("batch", "layer", "group", None)


@keras.saving.register_keras_serializable(package="mmkeras")
class ConvStem(keras.layers.Layer):
    """A small CNN that turns an image into tokens for cross-attention.

    One block per entry of `filters`: `Conv2D(stride 2, "same" padding) ->
    normalization -> activation`, so each block halves the height and width
    (rounding up). Then `context_layers` residual blocks at that resolution,
    each `x + activation(normalization(Conv2D(x)))` with the conv dilated
    1, 2, 4, ... cells, widen what each position sees without shrinking the
    grid. An optional 1x1 convolution projects to `hidden_dim`, the
    grid is flattened row by row into `(batch, height' * width', features)`
    and learned position embeddings are added. Position embeddings need a
    static image size.

    With `normalization="batch"` under `MirroredStrategy`, the batch
    statistics are computed per replica, over each replica's share of the
    global batch, not across replicas. With small per-replica batches that
    makes them noisy. `normalization="group"` (one group: each image's
    whole feature map) does not depend on the batch and keeps every
    pixel's intensity relative to the rest of the image.
    `normalization="layer"` (per pixel, over channels) also does not
    depend on the batch, but after a bias-free conv it is blind to scale:
    a gray region gives the same features as a white one.

    Args:
        filters: number of filters of each conv block; one block per entry.
        kernel_size: side of the square conv kernels.
        hidden_dim: size of the output tokens, via a 1x1 projection; `None`
            keeps `filters[-1]` and adds no projection.
        activation: activation after each normalization.
        normalization: `"batch"`, `"group"`, `"layer"` or `None` (then the
            convs have biases instead).
        use_position_embedding: add learned position embeddings.
        coordinates: append two channels, the pixel's row and column in
            [-1, 1], to the images before the first conv (CoordConv, Liu
            et al. 2018), so the features say where they are from the
            first step on, as relations such as "left of" need.
        context_layers: number of dilated residual blocks after the
            stride-2 blocks. Two stride-2 3x3 convs see 7 pixels, less than
            one object of the shapes scenes; three blocks (dilations 1, 2,
            4) let each cell see 7 cells further each way.

    Example:

    >>> stem = mmkeras.layers.ConvStem(filters=(8, 16), hidden_dim=32)
    >>> stem(np.ones((2, 16, 16, 3), "float32")).shape
    TensorShape([2, 16, 32])
    """

    def __init__(
        self,
        filters=(32, 64),
        kernel_size=3,
        hidden_dim=None,
        activation="relu",
        normalization="batch",
        use_position_embedding=True,
        coordinates=False,
        context_layers=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.positive_ints("filters", filters)
        _checks.positive_int("kernel_size", kernel_size)
        _checks.optional_positive_int("hidden_dim", hidden_dim)
        _checks.one_of("normalization", normalization, _NORMALIZATIONS)
        _checks.non_negative_int("context_layers", context_layers)
        self.filters = tuple(filters)
        self.kernel_size = kernel_size
        self.hidden_dim = hidden_dim
        self.activation = keras.activations.get(activation)
        self.normalization = normalization
        self.use_position_embedding = use_position_embedding
        self.coordinates = coordinates
        self.context_layers = context_layers

    def build(self, inputs_shape):
        _checks.rank("images", inputs_shape, 4)
        shape = tuple(inputs_shape)
        if self.coordinates:
            shape = shape[:-1] + (shape[-1] + 2,)
        convs, norms = [], []
        for index, filters in enumerate(self.filters):
            conv = keras.layers.Conv2D(
                filters,
                self.kernel_size,
                strides=2,
                padding="same",
                # A normalization re-centres the features; a bias is wasted.
                use_bias=self.normalization is None,
                dtype=self.dtype_policy,
                name=f"conv_{index}",
            )
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            convs.append(conv)
            if self.normalization is not None:
                norms.append(self._norm(index, shape))
        self.convs, self.norms = convs, norms
        self.context = []
        for index in range(self.context_layers):
            conv = keras.layers.Conv2D(
                shape[-1],
                self.kernel_size,
                padding="same",
                dilation_rate=2**index,
                use_bias=self.normalization is None,
                dtype=self.dtype_policy,
                name=f"context_conv_{index}",
            )
            conv.build(shape)
            norm = None
            if self.normalization is not None:
                norm = self._norm(len(self.filters) + index, shape)
            self.context.append((conv, norm))
        self.projection = None
        if self.hidden_dim is not None:
            self.projection = keras.layers.Conv2D(
                self.hidden_dim, 1, dtype=self.dtype_policy, name="projection"
            )
            self.projection.build(shape)
            shape = tuple(shape[:-1]) + (self.hidden_dim,)
        self.position_embedding = None
        if self.use_position_embedding:
            height, width = shape[1], shape[2]
            if height is None or width is None:
                raise ValueError(
                    "ConvStem with use_position_embedding=True needs a "
                    "static image size. Received: images of shape "
                    f"{tuple(inputs_shape)}"
                )
            self.position_embedding = self.add_weight(
                shape=(height * width, shape[-1]),
                initializer=keras.initializers.RandomNormal(stddev=0.02),
                name="position_embedding",
            )

    def _norm(self, index, shape):
        if self.normalization == "batch":
            norm = keras.layers.BatchNormalization(
                dtype=self.dtype_policy, name=f"batch_norm_{index}"
            )
        elif self.normalization == "group":
            norm = keras.layers.GroupNormalization(
                groups=1, dtype=self.dtype_policy, name=f"group_norm_{index}"
            )
        else:
            norm = keras.layers.LayerNormalization(
                dtype=self.dtype_policy, name=f"layer_norm_{index}"
            )
        norm.build(shape)
        return norm

    def call(self, inputs, training=None):
        _checks.rank("images", inputs.shape, 4)
        features = _with_coordinates(inputs) if self.coordinates else inputs
        for index, conv in enumerate(self.convs):
            features = conv(features)
            if self.norms:
                features = self.norms[index](features, training=training)
            features = self.activation(features)
        for conv, norm in self.context:
            update = conv(features)
            if norm is not None:
                update = norm(update, training=training)
            features = features + self.activation(update)
        if self.projection is not None:
            features = self.projection(features)
        shape = ops.shape(features)
        tokens = ops.reshape(features, (shape[0], -1, features.shape[-1]))
        if self.position_embedding is not None:
            self._check_num_tokens(tokens.shape[1], inputs.shape)
            position = ops.cast(self.position_embedding, self.compute_dtype)
            tokens = tokens + position[None]
        return tokens

    def _check_num_tokens(self, num_tokens, inputs_shape):
        expected = self.position_embedding.shape[0]
        if num_tokens is not None and num_tokens != expected:
            raise ValueError(
                f"ConvStem was built for {expected} tokens but images of "
                f"shape {tuple(inputs_shape)} give {num_tokens}."
            )

    def compute_output_shape(self, inputs_shape):
        _checks.rank("images", inputs_shape, 4)
        height, width = inputs_shape[1], inputs_shape[2]
        for _ in self.filters:
            height = None if height is None else -(-height // 2)
            width = None if width is None else -(-width // 2)
        num_tokens = None if None in (height, width) else height * width
        features = self.hidden_dim or self.filters[-1]
        return (inputs_shape[0], num_tokens, features)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": list(self.filters),
                "kernel_size": self.kernel_size,
                "hidden_dim": self.hidden_dim,
                "activation": keras.activations.serialize(self.activation),
                "normalization": self.normalization,
                "use_position_embedding": self.use_position_embedding,
                "coordinates": self.coordinates,
                "context_layers": self.context_layers,
            }
        )
        return config


def _with_coordinates(images):
    """`images` with two more channels: each pixel's row and column."""
    shape = ops.shape(images)
    rows = ops.linspace(-1.0, 1.0, shape[1])
    columns = ops.linspace(-1.0, 1.0, shape[2])
    grid = ops.stack(ops.meshgrid(rows, columns, indexing="ij"), axis=-1)
    grid = ops.cast(grid, images.dtype)[None]
    grid = ops.broadcast_to(grid, (shape[0], shape[1], shape[2], 2))
    return ops.concatenate([images, grid], axis=-1)
