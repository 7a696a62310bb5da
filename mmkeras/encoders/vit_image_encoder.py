import keras

from mmkeras import _checks
from mmkeras.encoders import _pooling
from mmkeras.encoders import _stack
from mmkeras.encoders._presets import PresetMixin
from mmkeras.layers import PatchEmbedding

_POOLINGS = ("first", "mean")


@keras.saving.register_keras_serializable(package="mmkeras")
class ViTImageEncoder(PresetMixin, keras.layers.Layer):
    """A Vision Transformer: patches, a class token, pre-LN blocks, a norm.

    The layout of ViT / timm's `vit_*_patch16_224` without the classifier,
    so `"vit_tiny_16"` and `"vit_small_16"` have the same parameter counts.
    The image size must be static and divisible by `patch_size`.

    Returns `{"tokens": (batch, 1 + num_patches, hidden_dim), "pooled":
    (batch, hidden_dim)}`; the class token comes first in `"tokens"`.

    Args:
        patch_size: side of the square patches.
        hidden_dim: size of the tokens.
        num_layers: number of transformer blocks.
        num_heads: attention heads per block.
        intermediate_dim: width of the MLPs.
        dropout: dropout in the blocks.
        pooling: `"first"` (the class token) or `"mean"` (over the patch
            tokens) for `"pooled"`.
        layer_norm_epsilon: epsilon of every layer norm.
        xla: run each transformer block as one XLA computation: `True`,
            `False` or `"auto"` (the default) compiles on a GPU or TPU only.

    Example:

    >>> encoder = mmkeras.encoders.ViTImageEncoder.from_preset("tiny")
    >>> outputs = encoder(np.zeros((2, 32, 32, 3), "float32"))
    >>> outputs["tokens"].shape, outputs["pooled"].shape
    (TensorShape([2, 17, 64]), TensorShape([2, 64]))
    """

    presets = {
        "tiny": dict(
            patch_size=8,
            hidden_dim=64,
            num_layers=2,
            num_heads=2,
            intermediate_dim=128,
        ),
        "small": dict(
            patch_size=8,
            hidden_dim=192,
            num_layers=6,
            num_heads=3,
            intermediate_dim=768,
        ),
        "vit_tiny_16": dict(
            patch_size=16,
            hidden_dim=192,
            num_layers=12,
            num_heads=3,
            intermediate_dim=768,
        ),
        "vit_small_16": dict(
            patch_size=16,
            hidden_dim=384,
            num_layers=12,
            num_heads=6,
            intermediate_dim=1536,
        ),
    }

    def __init__(
        self,
        patch_size=16,
        hidden_dim=192,
        num_layers=12,
        num_heads=3,
        intermediate_dim=768,
        dropout=0.0,
        pooling="first",
        layer_norm_epsilon=1e-6,
        xla="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("patch_size", patch_size),
            ("hidden_dim", hidden_dim),
            ("num_layers", num_layers),
            ("num_heads", num_heads),
            ("intermediate_dim", intermediate_dim),
        ):
            _checks.positive_int(name, value)
        _checks.divisible("hidden_dim", hidden_dim, "num_heads", num_heads)
        _checks.rate("dropout", dropout)
        _pooling.check(pooling, _POOLINGS)
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.pooling = pooling
        self.layer_norm_epsilon = layer_norm_epsilon
        self.xla = xla

    def build(self, images_shape):
        self.patch_embedding = PatchEmbedding(
            self.patch_size,
            self.hidden_dim,
            use_class_token=True,
            dtype=self.dtype_policy,
            name="patch_embedding",
        )
        self.patch_embedding.build(images_shape)
        shape = self.patch_embedding.compute_output_shape(images_shape)
        self.blocks, self.output_norm = _stack.pre_ln_stack(self, shape)

    def call(self, images, training=None):
        _checks.float_images(type(self).__name__, images)
        tokens = self.patch_embedding(images)
        for block in self.blocks:
            tokens = block(tokens, training=training)
        tokens = self.output_norm(tokens)
        pooled = (
            tokens[:, 0]
            if self.pooling == "first"
            else _pooling.pool(tokens[:, 1:], "mean")
        )
        return {"tokens": tokens, "pooled": pooled}

    def compute_output_shape(self, images_shape):
        tokens_shape = PatchEmbedding(
            self.patch_size, self.hidden_dim, use_class_token=True
        ).compute_output_shape(images_shape)
        return {
            "tokens": tokens_shape,
            "pooled": (tokens_shape[0], self.hidden_dim),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "patch_size": self.patch_size,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "pooling": self.pooling,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "xla": self.xla,
            }
        )
        return config
