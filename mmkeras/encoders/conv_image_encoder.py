import keras

from mmkeras import _checks
from mmkeras.encoders import _pooling
from mmkeras.encoders._presets import PresetMixin
from mmkeras.layers import ConvStem

_POOLINGS = ("mean", "max")


@keras.saving.register_keras_serializable(package="mmkeras")
class ConvImageEncoder(PresetMixin, keras.layers.Layer):
    """A small CNN image encoder: a `ConvStem` and a final layer norm.

    Each conv block halves the image; the grid becomes tokens with learned
    position embeddings (so the image size must be static), normalized per
    token. Suited to the synthetic and small datasets of the zoo, where a
    pretrained backbone is overkill. Images are float `(batch, height,
    width, channels)` in whatever range the data pipeline gives
    (`mmkeras.data` uses [0, 1]).

    Returns `{"tokens": (batch, num_tokens, hidden_dim), "pooled": (batch,
    hidden_dim)}` (see `mmkeras.encoders`).

    Args:
        filters: filters of each stride-2 conv block.
        hidden_dim: size of the tokens (a 1x1 projection).
        kernel_size: side of the conv kernels.
        normalization: `"group"` (default), `"batch"`, `"layer"` or
            `None`, as in `ConvStem`. Group norm by default: it does not
            depend on the batch (with batch norm, evaluation on our tasks
            swung between epochs and replicas of a `MirroredStrategy`
            normalize with different statistics), and unlike `"layer"` it
            sees intensity (per-pixel layer norm made gray objects
            invisible on white scenes).
        pooling: `"mean"` or `"max"` over the tokens for `"pooled"`.
        coordinates: give the stem each pixel's row and column as two
            more input channels (CoordConv), as in `ConvStem`.
        context_layers: dilated residual conv blocks after the stride-2
            blocks, as in `ConvStem`.
        normalize_tokens: end with a layer norm over each token's
            features. `False` keeps the stem's features, so an empty
            stretch of page stays weaker than an object, which a fusion
            that max-pools over the grid (`mmkeras.layers.FiLMFusionHead`,
            `VQAModel(fusion="film")`) needs.

    Example:

    >>> encoder = mmkeras.encoders.ConvImageEncoder.from_preset("tiny")
    >>> outputs = encoder(np.zeros((2, 32, 32, 3), "float32"))
    >>> outputs["tokens"].shape, outputs["pooled"].shape
    (TensorShape([2, 16, 64]), TensorShape([2, 64]))
    """

    presets = {
        "tiny": dict(filters=(16, 32, 64), hidden_dim=64),
        "small": dict(filters=(32, 64, 128, 256), hidden_dim=256),
    }

    def __init__(
        self,
        filters=(32, 64, 128),
        hidden_dim=128,
        kernel_size=3,
        normalization="group",
        pooling="mean",
        coordinates=False,
        normalize_tokens=True,
        context_layers=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.positive_ints("filters", filters)
        _checks.positive_int("hidden_dim", hidden_dim)
        _checks.positive_int("kernel_size", kernel_size)
        _pooling.check(pooling, _POOLINGS)
        self.filters = tuple(filters)
        self.hidden_dim = hidden_dim
        self.kernel_size = kernel_size
        self.normalization = normalization
        self.pooling = pooling
        self.coordinates = coordinates
        self.normalize_tokens = normalize_tokens
        self.context_layers = context_layers

    def build(self, images_shape):
        self.stem = ConvStem(
            self.filters,
            kernel_size=self.kernel_size,
            hidden_dim=self.hidden_dim,
            normalization=self.normalization,
            coordinates=self.coordinates,
            context_layers=self.context_layers,
            dtype=self.dtype_policy,
            name="stem",
        )
        self.stem.build(images_shape)
        tokens_shape = self.stem.compute_output_shape(images_shape)
        self.output_norm = None
        if self.normalize_tokens:
            self.output_norm = keras.layers.LayerNormalization(
                epsilon=1e-6, dtype=self.dtype_policy, name="output_norm"
            )
            self.output_norm.build(tokens_shape)

    def call(self, images, training=None):
        _checks.float_images(type(self).__name__, images)
        tokens = self.stem(images, training=training)
        if self.output_norm is not None:
            tokens = self.output_norm(tokens)
        return {"tokens": tokens, "pooled": _pooling.pool(tokens, self.pooling)}

    def compute_output_shape(self, images_shape):
        tokens_shape = ConvStem(
            self.filters, self.kernel_size, self.hidden_dim
        ).compute_output_shape(images_shape)
        return {
            "tokens": tokens_shape,
            "pooled": (tokens_shape[0], self.hidden_dim),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": list(self.filters),
                "hidden_dim": self.hidden_dim,
                "kernel_size": self.kernel_size,
                "normalization": self.normalization,
                "pooling": self.pooling,
                "coordinates": self.coordinates,
                "normalize_tokens": self.normalize_tokens,
                "context_layers": self.context_layers,
            }
        )
        return config
