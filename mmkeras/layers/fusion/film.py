import keras
from keras import ops

from mmkeras import _checks


@keras.saving.register_keras_serializable(package="mmkeras")
class FiLM(keras.layers.Layer):
    """Feature-wise linear modulation (Perez et al., 2018).

    A conditioning vector `c` (the question) scales and shifts every
    channel of the features `x` (an image feature map, or tokens):
    `(1 + gamma(c)) * x + beta(c)`, with `gamma` and `beta` one linear
    layer of `c`, broadcast over every position of `x`. The `1 +` makes a
    small `gamma` a small change, so training starts near the identity.

    Call as `layer([features, condition])` with features `(batch, ...,
    channels)` and condition `(batch, condition_dim)`; the output has the
    features' shape. `return_modulation=True` also returns `(gamma, beta)`,
    each `(batch, channels)`.

    Args:
        kernel_initializer: initializer of the conditioning layer.

    Example:

    >>> film = mmkeras.layers.FiLM()
    >>> features = np.ones((2, 5, 5, 8), "float32")
    >>> film([features, np.ones((2, 11), "float32")]).shape
    TensorShape([2, 5, 5, 8])
    """

    def __init__(self, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, inputs_shape):
        _checks.tensor_list("inputs", inputs_shape, 2, 2)
        features_shape, condition_shape = inputs_shape
        _checks.rank("condition", condition_shape, 2)
        if len(features_shape) < 2 or features_shape[-1] is None:
            raise ValueError(
                "features must have rank 2 or more and a known last axis "
                f"(channels). Received: features of shape "
                f"{tuple(features_shape)}"
            )
        self.channels = features_shape[-1]
        self.modulation = keras.layers.Dense(
            2 * self.channels,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="modulation",
        )
        self.modulation.build(condition_shape)

    def call(self, inputs, return_modulation=False):
        features, condition = inputs
        gamma, beta = ops.split(self.modulation(condition), 2, axis=-1)
        # (batch, channels) -> (batch, 1, ..., 1, channels).
        broadcast = (-1,) + (1,) * (len(features.shape) - 2) + (self.channels,)
        output = (1.0 + ops.reshape(gamma, broadcast)) * features
        output = output + ops.reshape(beta, broadcast)
        if return_modulation:
            return output, (gamma, beta)
        return output

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape[0])

    def compute_output_spec(self, inputs, return_modulation=False):
        features = inputs[0]
        output = keras.KerasTensor(features.shape, dtype=self.compute_dtype)
        if not return_modulation:
            return output
        modulation = keras.KerasTensor(
            (features.shape[0], features.shape[-1]), dtype=self.compute_dtype
        )
        return output, (modulation, modulation)

    def get_config(self):
        config = super().get_config()
        config["kernel_initializer"] = keras.initializers.serialize(
            self.kernel_initializer
        )
        return config
