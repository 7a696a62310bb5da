import keras

from mmkeras import _checks
from mmkeras.layers.vision_language import _checks as _vl_checks


@keras.saving.register_keras_serializable(package="mmkeras")
class ImageTokenProjector(keras.layers.Layer):
    """LLaVA-1.5's projector: image tokens to the language model's width.

    `Dense(intermediate_dim, activation) -> Dense(hidden_dim)` on each
    token, `(batch, n, d_in) -> (batch, n, hidden_dim)`. The projected
    tokens take the place of the image placeholder in the prompt's
    embeddings (a prefix), the alternative to Flamingo's gated
    cross-attention. A padding mask on the input passes through.

    Args:
        hidden_dim: output width (the language model's).
        intermediate_dim: width of the hidden layer; defaults to
            `hidden_dim` (LLaVA-1.5).
        activation: activation of the hidden layer.

    Example:

    >>> projector = mmkeras.layers.ImageTokenProjector(hidden_dim=16)
    >>> projector(np.ones((2, 49, 32), "float32")).shape
    TensorShape([2, 49, 16])
    """

    def __init__(
        self, hidden_dim, intermediate_dim=None, activation="gelu", **kwargs
    ):
        super().__init__(**kwargs)
        _checks.positive_int("hidden_dim", hidden_dim)
        _checks.optional_positive_int("intermediate_dim", intermediate_dim)
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.activation = keras.activations.get(activation)
        self.supports_masking = True

    def build(self, image_tokens_shape):
        _checks.rank("image_tokens", image_tokens_shape, 3)
        width = self.intermediate_dim or self.hidden_dim
        self.hidden_dense = keras.layers.Dense(
            width,
            activation=self.activation,
            dtype=self.dtype_policy,
            name="hidden",
        )
        self.hidden_dense.build(image_tokens_shape)
        self.output_dense = keras.layers.Dense(
            self.hidden_dim, dtype=self.dtype_policy, name="output"
        )
        self.output_dense.build((*image_tokens_shape[:-1], width))

    def call(self, image_tokens):
        _checks.rank("image_tokens", image_tokens.shape, 3)
        expected = self.hidden_dense.kernel.shape[0]
        _vl_checks.width(self, "image_tokens", image_tokens.shape, expected)
        return self.output_dense(self.hidden_dense(image_tokens))

    def compute_output_shape(self, image_tokens_shape):
        return (*image_tokens_shape[:-1], self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "activation": keras.activations.serialize(self.activation),
            }
        )
        return config
